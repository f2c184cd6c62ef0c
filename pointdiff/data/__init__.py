"""Images in, point clouds out.

``images`` (an image -> ink pixels -> points), ``folders`` and ``sources`` (which images a
folder or built-in source gives, with captions), ``ingest`` (builds the dataset, through
``staging``), ``dataset`` (the folder on disk and its point sampler), ``faces/`` (the
built-in face renderer).
"""
