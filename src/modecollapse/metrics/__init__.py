"""Pure metric functions over tensors; I/O and caching stay at the edges."""
