"""Old parts owed back for warranty parts (rule PRT-5), received or excused, and disposed of (rule PRT-7)."""
