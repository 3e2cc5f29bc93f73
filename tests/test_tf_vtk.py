"""TensorFlow and VTK in one process: train a Conv3D model, then render offscreen.

TensorFlow >= 2.20 loads its LLVM into the global symbol namespace and Mesa's llvmpipe (VTK's
offscreen renderer) then segfaults. ``import mim3d`` before TensorFlow blocks that (see
``mim3d/__init__.py``). The check runs in a child process so a segfault fails this test instead
of killing pytest. (Without the block, i.e. importing TensorFlow before mim3d, the same child
exits with -11 / SIGSEGV while rendering.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import sys

    import mim3d  # first: blocks TensorFlow's global dlopen flags
    import keras
    import numpy as np

    from mim3d.render3d import render_shell, tf_has_global_llvm

    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 8, 1)).astype("float32")
    model = keras.Sequential([
        keras.Input((8, 8, 8, 1)),
        keras.layers.Conv3D(4, 3, padding="same", activation="relu"),
        keras.layers.Conv3D(1, 1),
    ])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, x, epochs=2, batch_size=2, verbose=0)
    y = model.predict(x, verbose=0)
    assert y.shape == x.shape and np.isfinite(y).all()
    assert "tensorflow" in sys.modules and not tf_has_global_llvm()

    volume = 10.0 ** (1.0 + y[0, ..., 0] + x[0, ..., 0])
    image = render_shell(volume, box_pc=60.0, window_size=(200, 160), subprocess=False)
    assert image.shape == (160, 200, 3)
    print("OK", len(history.history["loss"]), float(image.astype(float).var()))
    """
)


def test_train_then_render_in_one_process():
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow",
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, f"child exited with {done.returncode}:\n{done.stderr[-3000:]}"
    words = done.stdout.strip().splitlines()[-1].split()
    assert words[:2] == ["OK", "2"]
    assert float(words[2]) > 0  # the screenshot is not blank


TF_FIRST = textwrap.dedent(
    """
    import tensorflow  # before mim3d: TensorFlow's LLVM goes global, in-process VTK would crash
    import numpy as np

    from mim3d.render3d import render_shell, tf_has_global_llvm

    assert tf_has_global_llvm()
    volume = 10.0 ** np.random.default_rng(0).random((8, 8, 8))
    image = render_shell(volume, window_size=(120, 100))  # default: renders in a child process
    assert image.shape == (100, 120, 3)
    print("OK", float(image.astype(float).var()))
    """
)


def test_tensorflow_imported_first_renders_in_a_child():
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow",
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", TF_FIRST], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, f"child exited with {done.returncode}:\n{done.stderr[-3000:]}"
    words = done.stdout.strip().splitlines()[-1].split()
    assert words[0] == "OK" and float(words[1]) > 0
