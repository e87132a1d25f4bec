"""Stock (rules PRT-1, PRT-2): locations, the ledger, receiving notes, transfers, serials, technicians' vans."""
