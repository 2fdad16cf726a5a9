"""What keeps the read models current, and the projection monitor that reports on it."""
