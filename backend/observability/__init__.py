"""What operators watch: metrics."""
