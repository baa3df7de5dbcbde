"""The ``leonet`` command line. Each layer's commands live in their own module."""
