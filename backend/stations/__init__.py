"""Service stations (服务站): where technicians are based and distances are measured from."""
