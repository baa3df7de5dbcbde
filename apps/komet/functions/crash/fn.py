"""A function that fails on purpose (the fault tests): input "raise" raises an
exception, "exit" ends its own process (a crash of the function instance), anything
else is echoed."""
import os


def fn(inp: str) -> str:
    if inp == "raise":
        raise ValueError("asked to raise")
    if inp == "exit":
        os._exit(3)
    return inp
