"""Images in, point clouds out: loading, the on-disk dataset, the built-in face source."""
