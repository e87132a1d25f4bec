"""Write-offs (rule PRT-6): installed parts written off once their report is approved and old part settled."""
