"""Python's cyclic garbage collector paused while a big batch of objects is built that holds no
cycle worth collecting (a store's daily run, a PDF's boxes): the collector would only walk them
over and over. Refcounting still frees them; cycles go at the next collection after.

Shared by every thread of the process: the collector is off while any pause is going on and is
put back as it was found after the last one ends, on failure too."""
import contextlib
import functools
import gc
import threading

_lock = threading.Lock()
_pausers, _was_enabled = 0, True


@contextlib.contextmanager
def cyclic_gc_paused():
    global _pausers, _was_enabled
    with _lock:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _lock:
            _pausers -= 1
            if _pausers == 0 and _was_enabled:
                gc.enable()


def without_cyclic_gc(func):
    """func run inside cyclic_gc_paused()."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with cyclic_gc_paused():
            return func(*args, **kwargs)

    return wrapper
