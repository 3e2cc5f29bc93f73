"""mim3d: 3D Memory-In-Memory networks (Hirashima et al. 2023) for supernova blast-wave shells.

Importing mim3d before TensorFlow keeps TensorFlow from loading its LLVM into the global symbol
namespace. TensorFlow >= 2.20 does that through ``pywrap_dlopen_global_flags``; Mesa's llvmpipe
(used by VTK/pyvista for offscreen rendering) then calls into TensorFlow's LLVM and the process
segfaults. Blocking that optional module keeps both working in one notebook kernel.

It also asks for TensorFlow's BFC CPU allocator, which pools buffers instead of mapping fresh
ones for every convolution: a training step at the seed's size runs 1.2–1.4× faster
(``bench/README.md``). TensorFlow reads the setting when it makes its first tensor; set
``TF_CPU_ALLOCATOR_USE_BFC=false`` before importing mim3d to keep TensorFlow's own allocator.
"""

from __future__ import annotations

import os
import sys

if "tensorflow" not in sys.modules:
    sys.modules.setdefault("tensorflow.python.pywrap_dlopen_global_flags", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
if hasattr(os, "sysconf"):  # POSIX; elsewhere TensorFlow's cap stays
    # the BFC allocator's cap (TensorFlow's default 64 GiB), raised to the machine's memory
    _memory_mib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    os.environ.setdefault("TF_CPU_BFC_MEM_LIMIT_IN_MB", str(max(2**16, _memory_mib)))
    del _memory_mib

__version__ = "0.1.0"
