"""The cost-avoided tally: paid-API token counts, versioned prices, energy, totals."""
