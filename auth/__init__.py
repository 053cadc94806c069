"""Who is calling and what they may do. Imports domain only."""
