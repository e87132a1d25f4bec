"""The parts catalogue: part numbers, prices, suppliers, whether a part is serial-tracked."""
