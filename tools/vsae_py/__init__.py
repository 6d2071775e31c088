"""The Python side of vsae_gpu (DESIGN §8): read run and sweep directories, and load a trained model.

    from vsae_py import load_run, load_model, load_sweep

Run it from the project environment (`.venv/bin/python`, made by tools/setup.sh), with tools/ on
sys.path: the scripts in tools/ have it there already; elsewhere use `PYTHONPATH=tools`.

The names are imported lazily (PEP 562), so `import vsae_py` loads neither torch nor pandas:
tools/report.py needs torch only for its feature images, and pandas is loaded only where a
DataFrame is asked for.
"""
import importlib

# name -> the module that defines it
_EXPORTS = {
    "load_json": "files", "load_metrics": "files", "read_safetensors": "files", "load_images": "files",
    "SCHEDULE_END_DIR": "files",
    "Run": "runs", "load_run": "runs", "load_sweep": "runs", "flatten": "runs",
    "VaeSae": "model", "load_model": "model",
    "evaluate_representation": "disentanglement", "evaluate_run": "disentanglement",
    "saved_representations": "disentanglement",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__():
    return __all__
