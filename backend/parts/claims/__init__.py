"""Money around old parts: secondary claims to suppliers (rule PRT-7) and freight of mailed parts (PRT-8)."""
