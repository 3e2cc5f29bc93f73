"""mim3d: 3D Memory-In-Memory networks (Hirashima et al. 2023) for supernova blast-wave shells.

Importing mim3d before TensorFlow keeps TensorFlow from loading its LLVM into the global symbol
namespace. TensorFlow >= 2.20 does that through ``pywrap_dlopen_global_flags``; Mesa's llvmpipe
(used by VTK/pyvista for offscreen rendering) then calls into TensorFlow's LLVM and the process
segfaults. Blocking that optional module keeps both working in one notebook kernel.
"""

from __future__ import annotations

import os
import sys

if "tensorflow" not in sys.modules:
    sys.modules.setdefault("tensorflow.python.pywrap_dlopen_global_flags", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

__version__ = "0.1.0"
