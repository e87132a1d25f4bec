"""Parts used on a job as its signed field report records them (rules PRT-4..PRT-6): installations."""
