#!/usr/bin/env python3
"""Writes the tiny dataset fixture used by tests/test_dataset.c.

Every view is a uniform image whose colour the test knows (the table in
test_dataset.c mirrors VIEWS below), so a batch can be checked pixel by pixel
and the pairing of images with study ids verified under shuffling. The
reports are invented for the test (no IU X-Ray text). Run from anywhere:
    /usr/bin/python3 tests/golden/dataset/make_fixtures.py
"""
import json
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
IMG = os.path.join(HERE, "images")

# (study id, report, [(file, kind, colour)]); kind: gray8 png, rgb8 png,
# gray16 png (colour in 0..65535), rgba8 png, grayjpg, rgbjpg
TRAIN = [
    ("s0", "The heart is normal in size. The lungs are clear.",
     [("s0/0.png", "gray8", 20), ("s0/1.png", "gray8", 30)]),
    ("s1", "1. No pleural effusion.. 2. No pneumothorax!",
     [("s1/0.png", "rgb8", (40, 50, 60))]),
    ("s2", "Mild cardiomegaly, stable. Small left effusion (new); no focal airspace disease.",
     [("s2/0.png", "gray8", 70), ("s2/1.png", "gray8", 80), ("s2/2.png", "gray8", 90)]),
    ("s3", "Lungs clear.",
     [("s3/0.png", "gray16", 16384), ("s3/1.png", "gray16", 49152)]),
    ("s4", "There is a right upper lobe opacity, concerning for pneumonia. Heart size is "
           "within normal limits. No pneumothorax or large pleural effusion is seen. "
           "Visualized osseous structures are intact.",
     [("s4/0.jpg", "grayjpg", 128), ("s4/1.jpg", "grayjpg", 64)]),
    ("s5", "Normal chest x-XXXX.",
     [("s5/0.jpg", "rgbjpg", (200, 100, 50)), ("s5/1.png", "rgba8", (10, 110, 210))]),
    ("s6", "Stable nodule in the left lung base; no acute disease.",
     [("s6/0.png", "gray8", 150), ("s6/1.png", "gray8", 160)]),
]
VAL = [
    ("v0", "Heart normal.", [("v0/0.png", "gray8", 100), ("missing/1.png", None, None)]),
]
TEST = [
    ("t0", "No acute disease.", [("t0/0.png", "gray8", 110), ("t0/1.png", "gray8", 120)]),
    ("t1", "Corrupt image study.", [("t1/0.png", "corrupt", None)]),
]

H, W = 10, 12


def write(path, kind, colour):
    full = os.path.join(IMG, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    if kind == "gray8":
        Image.fromarray(np.full((H, W), colour, np.uint8), "L").save(full)
    elif kind == "rgb8":
        Image.fromarray(np.full((H, W, 3), colour, np.uint8), "RGB").save(full)
    elif kind == "rgba8":
        a = np.zeros((H, W, 4), np.uint8)
        a[..., :3] = colour
        a[..., 3] = 77  # alpha is dropped, not composited
        Image.fromarray(a, "RGBA").save(full)
    elif kind == "gray16":
        Image.fromarray(np.full((H, W), colour, np.uint16), "I;16").save(full)
    elif kind == "grayjpg":
        Image.fromarray(np.full((16, 16), colour, np.uint8), "L").save(full, quality=95)
    elif kind == "rgbjpg":
        Image.fromarray(np.full((16, 16, 3), colour, np.uint8), "RGB").save(full, quality=95)
    elif kind == "corrupt":
        Image.fromarray(np.full((H, W), 5, np.uint8), "L").save(full)
        data = open(full, "rb").read()
        open(full, "wb").write(data[: len(data) // 2])
    else:
        assert kind is None  # a file that must not exist


def split(studies):
    out = []
    for sid, report, views in studies:
        for path, kind, colour in views:
            write(path, kind, colour)
        out.append({"id": sid, "report": report, "image_path": [v[0] for v in views]})
    return out


ann = {"train": split(TRAIN), "val": split(VAL), "test": split(TEST)}
with open(os.path.join(HERE, "annotation.json"), "w") as f:
    json.dump(ann, f, indent=1)
    f.write("\n")
