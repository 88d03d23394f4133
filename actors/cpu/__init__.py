"""The cpu actor: an RV32IM hart, its board, and guest program loading."""
