"""Procedural street-scene generator: the project's embedded default data (no download needed).

``render_scene(style, seed, (W, H))`` draws a driving scene seen from a car -- sky, skyline, road
with perspective and lane markings, sidewalks, facades with windows, walls, fences, vegetation,
terrain, poles, traffic signs and lights, cars, trucks, buses, trams, pedestrians, riders on
bicycles and motorcycles -- and returns the BGR image together with its label map in **Cityscapes
label ids** (void ids such as ego vehicle 1, static 4, parking 9, guard rail 14 and caravan 29
included, so the id -> trainId conversion of ``label_tables`` matters).  The two styles of
``synthetic_style`` (GTA-like ``source`` and Cityscapes-like ``target``) differ in colours,
textures, object statistics and sensor model, which gives a real domain gap for demos and tests of
the adaptation methods.

Geometry is a pinhole ground-plane model: a world point at lateral offset ``u`` and height ``h`` on
the depth slice ``s`` (``s = 1`` is the bottom image row, ``s -> 0`` the horizon; distance
``z = 1 / s``) projects to ``x = vx + u * s * W`` and ``y = yh + s * (H - yh) - h * s * W``.  One
world unit is thus the image width at the bottom row.  All drawing uses vectorised OpenCV
primitives; the random stream is ``np.random.default_rng([style.rng_offset, seed])``, so outputs
are bit-identical for equal arguments.

The generator is original to this project.
"""
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .synthetic_style import Colour, SceneStyle, get_style

Canvas = Tuple[np.ndarray, np.ndarray]   # (BGR image uint8 HxWx3, label ids uint8 HxW)
Anchor = Tuple[float, float, float]      # (x0, y0, pixels per world unit) of an object's foot point

SKY, EGO, STATIC, ROAD, SIDEWALK, PARKING = 23, 1, 4, 7, 8, 9
BUILDING, WALL, FENCE, GUARD_RAIL, POLE = 11, 12, 13, 14, 17
LIGHT, SIGN, VEGETATION, TERRAIN = 19, 20, 21, 22
PERSON, RIDER, CAR, TRUCK, BUS, CARAVAN = 24, 25, 26, 27, 28, 29
TRAIN, MOTORCYCLE, BICYCLE = 31, 32, 33
SCENE_SEED_STRIDE = 100003


def scene_seed(seed: int, idx: int) -> int:
    """Per-sample scene seed shared by the in-memory dataset and the exporter."""
    return int(seed) * SCENE_SEED_STRIDE + int(idx)


def check_size(size: Sequence[int]) -> Tuple[int, int]:
    """Validate an image size ``(W, H)`` of two positive ints and return it as a tuple."""
    ok = (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size))
    if not ok or min(size) < 1:
        raise ValueError(f'size/img_size must be (W, H) with two positive ints, got {size!r}')
    return int(size[0]), int(size[1])


def _texture_gain() -> np.ndarray:
    """Relative texture strength per label id (256 entries)."""
    gain = np.full(256, 0.5, dtype=np.float32)
    for ids, value in (((VEGETATION,), 2.2), ((TERRAIN,), 1.6), ((ROAD, SIDEWALK, PARKING), 0.9),
                       ((BUILDING, WALL), 0.8), ((SKY,), 0.15), ((EGO,), 0.2)):
        gain[list(ids)] = value
    return gain


TEXTURE_GAIN = _texture_gain()


# ----------------------------------------------------------------------------- projection helpers
def _project(geo: Dict, u, s, h=0.0) -> np.ndarray:
    """Image points (..., 2) of world points at lateral ``u``, depth slice ``s``, height ``h``."""
    u, s, h = np.broadcast_arrays(np.asarray(u, float), np.asarray(s, float), np.asarray(h, float))
    x = geo['vx'] + u * s * geo['W']
    y = geo['yh'] + s * (geo['H'] - geo['yh']) - h * s * geo['W']
    return np.stack([x, y], axis=-1)


def _ground_quad(geo: Dict, u0: float, u1: float, s0: float, s1: float) -> np.ndarray:
    """Polygon of the ground region ``u0..u1`` between depth slices s0 (far) and s1 (near)."""
    return _project(geo, [u0, u1, u1, u0], [s0, s0, s1, s1])


def _wall_quad(geo: Dict, u: float, z0: float, z1: float, h0: float, h1: float) -> np.ndarray:
    """Polygon of a vertical strip on the plane ``u``, distances z0..z1, heights h0..h1."""
    s = [1.0 / z0, 1.0 / z1, 1.0 / z1, 1.0 / z0]
    return _project(geo, u, s, [h0, h0, h1, h1])


def _anchor(geo: Dict, u: float, z: float) -> Anchor:
    """Foot point and scale (pixels per world unit) of an object standing at (u, z)."""
    x, y = _project(geo, u, 1.0 / z)
    return float(x), float(y), geo['W'] / z


def _local(anchor: Anchor, pts: Sequence[Tuple[float, float]]) -> np.ndarray:
    """Map object-local points (right, up) in world units to image pixels."""
    x0, y0, k = anchor
    arr = np.asarray(pts, dtype=float)
    return np.stack([x0 + arr[:, 0] * k, y0 - arr[:, 1] * k], axis=-1)


def _rect(anchor: Anchor, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Object-local axis-aligned rectangle as an image polygon."""
    return _local(anchor, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


# ----------------------------------------------------------------------------- drawing primitives
def _fill(canvas: Canvas, polys: Sequence[np.ndarray], label_id, colour: Colour) -> None:
    """Fill polygons into the image and, unless ``label_id`` is None, into the label map."""
    pts = [np.round(p).astype(np.int32).reshape(-1, 2) for p in polys]
    if label_id is not None:
        cv2.fillPoly(canvas[1], pts, int(label_id))
    cv2.fillPoly(canvas[0], pts, tuple(int(c) for c in colour))


def _circle(canvas: Canvas, anchor: Anchor, centre, radius: float, label_id, colour: Colour,
            width: float = -1.0) -> None:
    """Draw an object-local circle (filled when ``width`` < 0, else a ring of that width)."""
    (cx, cy), = np.round(_local(anchor, [centre])).astype(int)
    r = max(1, int(round(radius * anchor[2])))
    t = -1 if width < 0 else max(1, int(round(width * anchor[2])))
    if label_id is not None:
        cv2.circle(canvas[1], (int(cx), int(cy)), r, int(label_id), t)
    cv2.circle(canvas[0], (int(cx), int(cy)), r, tuple(int(c) for c in colour), t)


def _lines(canvas: Canvas, anchor: Anchor, segments, width: float, label_id,
           colour: Colour) -> None:
    """Draw object-local line segments ``[(p, q), ...]`` of the given world width."""
    t = max(1, int(round(width * anchor[2])))
    col = tuple(int(c) for c in colour)
    for p, q in segments:
        (x0, y0), (x1, y1) = np.round(_local(anchor, [p, q])).astype(int)
        if label_id is not None:
            cv2.line(canvas[1], (int(x0), int(y0)), (int(x1), int(y1)), int(label_id), t)
        cv2.line(canvas[0], (int(x0), int(y0)), (int(x1), int(y1)), col, t)


def _jitter(rng: np.random.Generator, colour: Colour, amount: float) -> Colour:
    """Colour with a random brightness offset and a smaller per-channel offset."""
    off = rng.normal(0.0, amount) + rng.normal(0.0, amount / 3.0, 3)
    return tuple(int(v) for v in np.clip(np.asarray(colour, float) + off, 0, 255))


def _pick(rng: np.random.Generator, colours: Sequence[Colour], amount: float) -> Colour:
    """A jittered colour drawn from a list."""
    return _jitter(rng, colours[int(rng.integers(len(colours)))], amount)


def _scaled(colour: Colour, factor: float) -> Colour:
    """Colour multiplied by a brightness factor."""
    return tuple(int(min(255, c * factor)) for c in colour)


# ----------------------------------------------------------------------------- layout and backgroun
def _layout(st: SceneStyle, rng: np.random.Generator, width: int, height: int) -> Dict:
    """Random scene geometry: horizon, vanishing point, road and per-side roadside layout."""
    geo = dict(W=width, H=height, yh=height * rng.uniform(*st.horizon),
               vx=width * rng.uniform(0.38, 0.62), rh=rng.uniform(*st.road_half),
               shadow_side=int(rng.choice([-1, 1])), sides={})
    for side in (-1, 1):
        kind = str(rng.choice(['buildings', 'park', 'wall'], p=[0.6, 0.25, 0.15]))
        verge = rng.uniform(0.05, 0.5) if (kind != 'buildings' or rng.random() < 0.45) else 0.0
        geo['sides'][side] = dict(kind=kind, sw=rng.uniform(0.25, 0.6), verge=verge)
    return geo


def _draw_sky(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict) -> None:
    """Fill everything with sky: a vertical colour gradient, clouds in sunny styles."""
    img, lab = canvas
    lab[:] = SKY
    t = np.clip(np.arange(geo['H'], dtype=np.float32) / max(geo['yh'], 1.0), 0, 1)[:, None] ** 0.7
    grad = (1 - t) * np.float32(st.sky_top) + t * np.float32(st.sky_horizon)
    img[:] = np.round(grad).astype(np.uint8)[:, None, :]
    if not st.clouds:
        return
    for _ in range(int(rng.integers(0, 6))):
        centre = (int(rng.uniform(0, geo['W'])), int(rng.uniform(0, 0.6 * geo['yh'])))
        axes = (int(rng.uniform(0.04, 0.14) * geo['W']) + 1,
                int(rng.uniform(0.01, 0.04) * geo['H']) + 1)
        cv2.ellipse(img, centre, axes, 0, 0, 360, _jitter(rng, (246, 246, 246), 6), -1)


def _draw_skyline(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict) -> None:
    """Distant buildings and tree tops standing on the horizon, hazed towards the sky colour."""
    width, height, yh = geo['W'], geo['H'], geo['yh']
    haze = np.float32(st.sky_horizon)
    for _ in range(int(rng.integers(5, 12))):
        cx = geo['vx'] + rng.uniform(-0.45, 0.45) * width
        w, h = rng.uniform(0.03, 0.1) * width, rng.uniform(0.03, 0.14) * height
        if rng.random() < 0.7:
            base = np.float32(_pick(rng, st.building_colours, st.colour_jitter))
            poly = np.array([[cx - w / 2, yh + 2], [cx + w / 2, yh + 2], [cx + w / 2, yh - h],
                             [cx - w / 2, yh - h]])
            _fill(canvas, [poly], BUILDING, tuple(0.6 * base + 0.4 * haze))
        else:
            colour = tuple(int(c) for c in 0.7 * np.float32(st.colour(VEGETATION)) + 0.3 * haze)
            for img_or_lab, value in ((canvas[1], VEGETATION), (canvas[0], colour)):
                cv2.ellipse(img_or_lab, (int(cx), int(yh)), (int(w / 2) + 1, int(h * 0.7) + 1),
                            0, 180, 360, value, -1)


def _draw_ground(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict) -> None:
    """Terrain below the horizon, the road, both sidewalks with curbs, parking and lane markings."""
    y0 = int(np.floor(geo['yh']))
    canvas[1][y0:] = TERRAIN
    canvas[0][y0:] = _jitter(rng, st.colour(TERRAIN), st.colour_jitter)
    rh = geo['rh']
    _fill(canvas, [_ground_quad(geo, -rh, rh, 0.0, 4.0)], ROAD,
          _jitter(rng, st.colour(ROAD), st.colour_jitter))
    walk = _jitter(rng, st.colour(SIDEWALK), st.colour_jitter)
    for side, cfg in geo['sides'].items():
        outer = side * (rh + cfg['sw'])
        _fill(canvas, [_ground_quad(geo, side * rh, outer, 0.0, 4.0)], SIDEWALK, walk)
        _fill(canvas, [_ground_quad(geo, side * rh, side * (rh + 0.03), 0.0, 4.0)], None,
              _scaled(walk, 1.15))
    _draw_parking(canvas, st, rng, geo)
    _draw_lane_marks(canvas, st, rng, geo)


def _draw_parking(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict) -> None:
    """Sometimes a parking strip (void id 9) at one road edge, with painted bay lines."""
    if rng.random() > 0.4:
        return
    side, rh = int(rng.choice([-1, 1])), geo['rh']
    z0 = rng.uniform(1.0, 4.0)
    z1 = z0 + rng.uniform(2.0, 8.0)
    _fill(canvas, [_ground_quad(geo, side * (rh - 0.24), side * rh, 1 / z1, 1 / z0)], PARKING,
          _jitter(rng, st.colour(PARKING), st.colour_jitter))
    zs = np.arange(z0 + 0.5, z1, 1.0)
    bays = [_ground_quad(geo, side * (rh - 0.24), side * rh, 1 / (z + 0.05), 1 / z) for z in zs]
    _fill(canvas, bays, None, (225, 225, 225))


def _draw_lane_marks(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict) -> None:
    """Painted lane markings (image only: Cityscapes labels them road)."""
    rh = geo['rh']
    white = _jitter(rng, (235, 235, 235) if st.name == 'source' else (190, 192, 196), 5)
    centre = (40, 200, 240) if st.name == 'source' else white
    edges = [_ground_quad(geo, s * (rh - 0.06), s * (rh - 0.04), 0.0, 4.0) for s in (-1, 1)]
    _fill(canvas, edges, None, white)
    period, length = rng.uniform(1.0, 1.6), rng.uniform(0.4, 0.7)
    z = np.arange(rng.uniform(0.6, 1.2), 60.0, period)
    lanes = [0.0] + ([-rh / 2, rh / 2] if rh > 0.75 else [])
    for u in lanes:
        s_far, s_near = 1.0 / (z + length), 1.0 / z
        quads = _project(geo, np.array([u - 0.015, u + 0.015, u + 0.015, u - 0.015]),
                         np.stack([s_far, s_far, s_near, s_near], axis=1))
        _fill(canvas, list(quads), None, centre if u == 0.0 else white)


# ----------------------------------------------------------------------------- roadside structures
def _draw_roadside(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict,
                   side: int) -> None:
    """Facades, vegetation or a long wall behind one sidewalk; fences, low walls and guard rails."""
    cfg, rh = geo['sides'][side], geo['rh']
    u_walk = side * (rh + cfg['sw'])
    u_fac = side * (rh + cfg['sw'] + cfg['verge'])
    shade = 1.0 - st.sun_shadow if side == geo['shadow_side'] else 1.0
    if cfg['kind'] == 'buildings':
        _draw_facades(canvas, st, rng, geo, u_fac, shade)
    elif cfg['kind'] == 'park':
        _draw_hedge(canvas, st, rng, geo, u_fac, 0.3, rng.uniform(25, 60), (0.5, 1.8))
    else:
        _draw_hedge(canvas, st, rng, geo, u_fac + side * 0.3, 0.3, 60.0, (0.9, 2.2))
        wall = _wall_quad(geo, u_fac, 0.3, rng.uniform(20, 60), 0.0, rng.uniform(0.35, 0.9))
        _fill(canvas, [wall], WALL, _scaled(_jitter(rng, st.colour(WALL), st.colour_jitter), shade))
    if rng.random() < (0.7 if cfg['kind'] == 'park' else 0.3):
        _draw_fence(canvas, st, rng, geo, u_walk)
    elif rng.random() < 0.3:
        z0 = rng.uniform(0.5, 3.0)
        low = _wall_quad(geo, u_walk, z0, z0 + rng.uniform(3, 15), 0.0, rng.uniform(0.1, 0.25))
        _fill(canvas, [low], WALL, _jitter(rng, st.colour(WALL), st.colour_jitter))
    if rng.random() < st.p_guard_rail:
        _draw_guard_rail(canvas, st, rng, geo, side * (rh + 0.02))


def _draw_facades(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
                  shade: float) -> None:
    """A row of buildings (with windows), wall segments and vegetation gaps on the plane ``u``."""
    z, z_end, segments = rng.uniform(0.3, 1.0), rng.uniform(25.0, 60.0), []
    while z < z_end:
        dz = rng.uniform(2.0, 7.0)
        segments.append((z, z + dz, rng.random()))
        z += dz + (rng.uniform(0.5, 3.0) if rng.random() < 0.2 else 0.0)
    for z0, z1, r in reversed(segments):
        if r < 0.8:
            _draw_building(canvas, st, rng, geo, u, z0, z1, shade)
        elif r < 0.9:
            _draw_hedge(canvas, st, rng, geo, u + np.sign(u) * 0.3, z0, z1, (0.8, 1.6))
            wall = _wall_quad(geo, u, z0, z1, 0.0, rng.uniform(0.3, 0.8))
            colour = _scaled(_jitter(rng, st.colour(WALL), st.colour_jitter), shade)
            _fill(canvas, [wall], WALL, colour)
        else:
            _draw_hedge(canvas, st, rng, geo, u, z0, z1, (0.6, 1.5))


def _draw_building(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
                   z0: float, z1: float, shade: float) -> None:
    """One facade between distances z0..z1 with a regular grid of windows."""
    h = rng.uniform(1.2, 5.0)
    colour = _scaled(_pick(rng, st.building_colours, st.colour_jitter), shade)
    _fill(canvas, [_wall_quad(geo, u, z0, z1, 0.0, h)], BUILDING, colour)
    step_z, step_h = rng.uniform(0.6, 1.0), rng.uniform(0.55, 0.7)
    zz, hh = np.meshgrid(np.arange(z0 + 0.25, z1 - 0.45, step_z), np.arange(0.35, h - 0.4, step_h))
    zz, hh = zz.ravel(), hh.ravel()
    if not zz.size:
        return
    ww, wh = 0.45 * step_z, 0.5 * step_h
    s = np.stack([1 / zz, 1 / (zz + ww), 1 / (zz + ww), 1 / zz], axis=1)
    quads = _project(geo, u, s, np.stack([hh, hh, hh + wh, hh + wh], axis=1))
    quads = quads[np.abs(quads[:, 0, 0] - quads[:, 1, 0]) >= 1.5]
    window = _scaled(_jitter(rng, st.window_colour, st.colour_jitter), shade)
    _fill(canvas, list(quads), None, window)


def _draw_hedge(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
                z0: float, z1: float, heights: Tuple[float, float]) -> None:
    """A band of vegetation on the plane ``u`` with an irregular top outline."""
    zk = np.geomspace(z0, z1, 24)
    hk = rng.uniform(*heights, size=zk.size)
    hk = np.convolve(np.pad(hk, 1, mode='edge'), np.ones(3) / 3, mode='valid')
    base = _project(geo, u, 1.0 / zk, 0.0)
    top = _project(geo, u, 1.0 / zk[::-1], hk[::-1])
    _fill(canvas, [np.concatenate([base, top])], VEGETATION,
          _jitter(rng, st.colour(VEGETATION), st.colour_jitter))


def _draw_fence(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict,
                u: float) -> None:
    """A fence along the outer sidewalk edge; posts and rails are painted into the image."""
    z0 = rng.uniform(0.4, 3.0)
    z1, h = z0 + rng.uniform(4.0, 25.0), rng.uniform(0.2, 0.32)
    colour = _jitter(rng, st.colour(FENCE), st.colour_jitter)
    _fill(canvas, [_wall_quad(geo, u, z0, z1, 0.0, h)], FENCE, colour)
    posts = [_wall_quad(geo, u, z, z + 0.06, 0.0, h) for z in np.arange(z0, z1, 0.5)]
    rails = [_wall_quad(geo, u, z0, z1, f * h, f * h + 0.02) for f in (0.45, 0.92)]
    _fill(canvas, posts + rails, None, _scaled(colour, 0.6))


def _draw_guard_rail(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict,
                     u: float) -> None:
    """A metal guard rail (void id 14) along the road edge."""
    z0 = rng.uniform(0.8, 3.0)
    z1 = z0 + rng.uniform(5.0, 30.0)
    colour = _jitter(rng, st.colour(GUARD_RAIL), st.colour_jitter)
    _fill(canvas, [_wall_quad(geo, u, z0, z1, 0.05, 0.1)], GUARD_RAIL, colour)
    posts = [_wall_quad(geo, u, z, z + 0.05, 0.0, 0.05) for z in np.arange(z0, z1, 0.6)]
    _fill(canvas, posts, GUARD_RAIL, _scaled(colour, 0.7))


# ----------------------------------------------------------------------------- vehicles (rear view)
TYRE, GLASS, TAIL_LIGHT, PLATE = (22, 22, 24), (60, 50, 40), (30, 30, 200), (225, 225, 225)


def _wheels(canvas: Canvas, anchor: Anchor, half_w: float, label_id: int) -> None:
    """Two rear tyres at the bottom corners of a vehicle."""
    _fill(canvas, [_rect(anchor, -half_w + 0.01, 0.0, -half_w + 0.08, 0.08),
                   _rect(anchor, half_w - 0.08, 0.0, half_w - 0.01, 0.08)], label_id, TYRE)


def _draw_car(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
              z: float, side: int) -> None:
    """A car seen from behind: tyres, body, cabin, rear window, tail lights and plate."""
    a, hw, h = _anchor(geo, u, z), rng.uniform(0.16, 0.2), rng.uniform(0.27, 0.34)
    body = _pick(rng, st.vehicle_colours, st.colour_jitter)
    _wheels(canvas, a, hw, CAR)
    _fill(canvas, [_rect(a, -hw, 0.05, hw, 0.55 * h)], CAR, body)
    cabin = _local(a, [(-hw + 0.03, 0.55 * h), (hw - 0.03, 0.55 * h), (hw - 0.07, h),
                       (-hw + 0.07, h)])
    _fill(canvas, [cabin], CAR, _scaled(body, 0.85))
    glass = _local(a, [(-hw + 0.05, 0.6 * h), (hw - 0.05, 0.6 * h), (hw - 0.085, 0.94 * h),
                       (-hw + 0.085, 0.94 * h)])
    _fill(canvas, [glass], None, GLASS)
    _fill(canvas, [_rect(a, -hw + 0.01, 0.36 * h, -hw + 0.06, 0.46 * h),
                   _rect(a, hw - 0.06, 0.36 * h, hw - 0.01, 0.46 * h)], None, TAIL_LIGHT)
    _fill(canvas, [_rect(a, -0.045, 0.1, 0.045, 0.15)], None, PLATE)


def _draw_box_vehicle(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict,
                      u: float, z: float, label_id: int, dims: Tuple[float, float, float]) -> None:
    """A box-shaped vehicle (truck, bus, caravan, tram) of half width, bottom and top height."""
    a, (hw, bottom, top) = _anchor(geo, u, z), dims
    colour = _jitter(rng, st.colour(label_id), st.colour_jitter)
    _wheels(canvas, a, hw, label_id)
    _fill(canvas, [_rect(a, -hw, bottom, hw, top)], label_id, colour)
    if label_id in (BUS, TRAIN, CARAVAN):
        _fill(canvas, [_rect(a, -hw + 0.04, 0.55 * top, hw - 0.04, 0.85 * top)], None, GLASS)
    if label_id == TRUCK:
        seam = _rect(a, -0.004, bottom + 0.03, 0.004, top - 0.03)
        _fill(canvas, [seam], None, _scaled(colour, 0.6))
    if label_id == TRAIN:
        _lines(canvas, a, [((-0.08, top), (0.0, top + 0.12)), ((0.0, top + 0.12), (0.08, top))],
               0.012, TRAIN, (40, 40, 40))
    _fill(canvas, [_rect(a, -hw + 0.01, bottom + 0.05, -hw + 0.05, bottom + 0.1),
                   _rect(a, hw - 0.05, bottom + 0.05, hw - 0.01, bottom + 0.1)], None, TAIL_LIGHT)


def _draw_truck(canvas, st, rng, geo, u, z, side) -> None:
    """A lorry with a tall cargo box."""
    _draw_box_vehicle(canvas, st, rng, geo, u, z, TRUCK, (0.25, 0.07, rng.uniform(0.7, 0.9)))


def _draw_bus(canvas, st, rng, geo, u, z, side) -> None:
    """A city bus with a rear window band."""
    _draw_box_vehicle(canvas, st, rng, geo, u, z, BUS, (0.26, 0.04, rng.uniform(0.62, 0.72)))


def _draw_caravan(canvas, st, rng, geo, u, z, side) -> None:
    """A parked caravan (void id 29)."""
    _draw_box_vehicle(canvas, st, rng, geo, u, z, CARAVAN, (0.23, 0.1, rng.uniform(0.5, 0.6)))


def _draw_train(canvas, st, rng, geo, u, z, side) -> None:
    """A tram (Cityscapes class train) with a pantograph."""
    _draw_box_vehicle(canvas, st, rng, geo, u, z, TRAIN, (0.28, 0.04, rng.uniform(0.68, 0.78)))


# ----------------------------------------------------------------------------- people and two-wheel
SKIN = ((150, 180, 220), (110, 140, 190), (70, 95, 130))


def _draw_person(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
                 z: float, side: int) -> None:
    """A standing or walking pedestrian: legs, torso, arms and head."""
    a, h, step = _anchor(geo, u, z), rng.uniform(0.32, 0.38), rng.uniform(-0.03, 0.03)
    top = _pick(rng, st.clothing_colours, st.colour_jitter)
    legs = _pick(rng, st.clothing_colours, st.colour_jitter)
    knee = 0.48 * h
    _fill(canvas, [_local(a, [(-0.045 + step, 0), (-0.015 + step, 0), (0.0, knee), (-0.04, knee)]),
                   _local(a, [(0.015 - step, 0), (0.045 - step, 0), (0.04, knee), (0.0, knee)])],
          PERSON, legs)
    _fill(canvas, [_local(a, [(-0.045, 0.46 * h), (0.045, 0.46 * h), (0.05, 0.8 * h),
                              (-0.05, 0.8 * h)])], PERSON, top)
    _lines(canvas, a, [((-0.05, 0.78 * h), (-0.06 - step, 0.5 * h)),
                       ((0.05, 0.78 * h), (0.06 + step, 0.5 * h))], 0.022, PERSON, top)
    _circle(canvas, a, (0.0, 0.89 * h), 0.024, PERSON, _pick(rng, SKIN, 8.0))


def _draw_rider(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, anchor: Anchor,
                d: float, seat: Tuple[float, float], bar: Tuple[float, float]) -> None:
    """A person riding a two-wheeler facing direction ``d`` (class rider)."""
    top = _pick(rng, st.clothing_colours, st.colour_jitter)
    legs = _pick(rng, st.clothing_colours, st.colour_jitter)
    shoulder = (seat[0] + d * 0.05, seat[1] + 0.15)
    _lines(canvas, anchor, [(seat, (seat[0] + d * 0.04, 0.09)), ((seat[0] + d * 0.04, 0.09),
                                                               (seat[0] + d * 0.03, 0.03))],
           0.03, RIDER, legs)
    _lines(canvas, anchor, [(seat, shoulder)], 0.065, RIDER, top)
    _lines(canvas, anchor, [(shoulder, bar)], 0.02, RIDER, top)
    _circle(canvas, anchor, (shoulder[0] + d * 0.015, shoulder[1] + 0.05), 0.028, RIDER,
            _pick(rng, SKIN, 8.0))


def _draw_two_wheeler(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
                      z: float, motor: bool, ridden: bool) -> None:
    """A bicycle or motorcycle in side view, optionally with its rider."""
    a, d = _anchor(geo, u, z), float(rng.choice([-1.0, 1.0]))
    label = MOTORCYCLE if motor else BICYCLE
    colour = _jitter(rng, st.colour(label), st.colour_jitter)
    r, half = (0.07, 0.14) if motor else (0.065, 0.105)
    seat, bar = (-d * 0.03, 0.2 if motor else 0.19), (d * 0.09, 0.24)
    for x in (-half, half):
        _circle(canvas, a, (x, r), r, label, TYRE if motor else colour, -1.0 if motor else 0.012)
    if motor:
        body = [(-half * 0.9, r), (half * 0.8, r * 1.2), (half * 0.6, 2.5 * r),
                (-half * 0.6, 2.6 * r)]
        _fill(canvas, [_local(a, body)], label, colour)
    else:
        frame = [((-d * half, r), seat), (seat, (d * half, r)), ((-d * half, r), (0.0, r)),
                 ((0.0, r), seat), ((d * half, r), bar)]
        _lines(canvas, a, frame, 0.012, label, colour)
    _lines(canvas, a, [(bar, (bar[0] - d * 0.03, bar[1] + 0.02))], 0.012, label, colour)
    if ridden:
        _draw_rider(canvas, st, rng, a, d, seat, bar)


def _draw_bike_rider(canvas, st, rng, geo, u, z, side) -> None:
    """A rider on a bicycle."""
    _draw_two_wheeler(canvas, st, rng, geo, u, z, motor=False, ridden=True)


def _draw_moto_rider(canvas, st, rng, geo, u, z, side) -> None:
    """A rider on a motorcycle."""
    _draw_two_wheeler(canvas, st, rng, geo, u, z, motor=True, ridden=True)


def _draw_parked_bike(canvas, st, rng, geo, u, z, side) -> None:
    """A bicycle parked on the sidewalk."""
    _draw_two_wheeler(canvas, st, rng, geo, u, z, motor=False, ridden=False)


def _draw_parked_moto(canvas, st, rng, geo, u, z, side) -> None:
    """A motorcycle parked at the road edge."""
    _draw_two_wheeler(canvas, st, rng, geo, u, z, motor=True, ridden=False)


# ----------------------------------------------------------------------------- street furniture
LAMP_COLOURS = ((40, 40, 230), (40, 200, 240), (80, 220, 60))


def _draw_traffic_light(canvas: Canvas, st: SceneStyle, anchor: Anchor, x: float, y: float,
                        rng: np.random.Generator) -> None:
    """A traffic-light housing (class traffic light) whose top-left corner is at (x, y + 0.17)."""
    _fill(canvas, [_rect(anchor, x, y, x + 0.07, y + 0.17)], LIGHT,
          _jitter(rng, st.colour(LIGHT), st.colour_jitter / 2))
    lit = int(rng.integers(3))
    for i, colour in enumerate(LAMP_COLOURS):
        lamp = colour if i == lit else _scaled(colour, 0.3)
        _circle(canvas, anchor, (x + 0.035, y + 0.14 - 0.055 * i), 0.02, None, lamp)


def _draw_lamp(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
               z: float, side: int) -> None:
    """A street lamp with an arm over the road; sometimes a traffic light hangs from the arm."""
    a, h = _anchor(geo, u, z), rng.uniform(1.0, 1.5)
    colour = _jitter(rng, st.colour(POLE), st.colour_jitter)
    _fill(canvas, [_rect(a, -0.018, 0.0, 0.018, h)], POLE, colour)
    tip = (-side * rng.uniform(0.2, 0.45), h + 0.03)
    _lines(canvas, a, [((0.0, h), tip)], 0.018, POLE, colour)
    _fill(canvas, [_rect(a, tip[0] - 0.05, tip[1] - 0.03, tip[0] + 0.05, tip[1])], POLE,
          _scaled(colour, 0.8))
    if rng.random() < 0.35:
        _draw_traffic_light(canvas, st, a, tip[0] * 0.6 - 0.035, h - 0.17, rng)


def _draw_sign_pole(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
                    z: float, side: int) -> None:
    """A traffic sign (disc, plate or triangle) on a thin pole."""
    a, h = _anchor(geo, u, z), rng.uniform(0.45, 0.6)
    pole = _jitter(rng, st.colour(POLE), st.colour_jitter)
    _fill(canvas, [_rect(a, -0.012, 0.0, 0.012, h)], POLE, pole)
    colour, shape = _jitter(rng, st.colour(SIGN), st.colour_jitter), int(rng.integers(3))
    if shape == 0:
        _circle(canvas, a, (0.0, h), 0.06, SIGN, colour)
    elif shape == 1:
        _fill(canvas, [_rect(a, -0.07, h - 0.04, 0.07, h + 0.05)], SIGN, colour)
    else:
        triangle = _local(a, [(-0.07, h - 0.04), (0.07, h - 0.04), (0.0, h + 0.08)])
        _fill(canvas, [triangle], SIGN, colour)
    _circle(canvas, a, (0.0, h + 0.005), 0.02, None, (235, 235, 235))


def _draw_light_pole(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
                     z: float, side: int) -> None:
    """A traffic light on its own pole at the road edge."""
    a, h = _anchor(geo, u, z), rng.uniform(0.55, 0.75)
    pole = _jitter(rng, st.colour(POLE), st.colour_jitter)
    _fill(canvas, [_rect(a, -0.016, 0.0, 0.016, h)], POLE, pole)
    _draw_traffic_light(canvas, st, a, -0.035, h, rng)


def _draw_tree(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
               z: float, side: int) -> None:
    """A tree: trunk and a crown of overlapping discs (all class vegetation)."""
    a, h, r = _anchor(geo, u, z), rng.uniform(0.45, 0.9), rng.uniform(0.22, 0.45)
    _fill(canvas, [_rect(a, -0.025, 0.0, 0.025, h + r * 0.5)], VEGETATION,
          _jitter(rng, (40, 62, 92), st.colour_jitter))
    base = st.colour(VEGETATION)
    for _ in range(int(rng.integers(3, 6))):
        centre = (rng.uniform(-0.6, 0.6) * r, h + r * rng.uniform(0.5, 1.2))
        _circle(canvas, a, centre, r * rng.uniform(0.5, 0.8), VEGETATION,
                _jitter(rng, base, st.colour_jitter * 1.5))


def _draw_bin(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict, u: float,
              z: float, side: int) -> None:
    """A rubbish bin on the sidewalk (void id 4, static)."""
    a = _anchor(geo, u, z)
    _fill(canvas, [_rect(a, -0.035, 0.0, 0.035, 0.12)], STATIC,
          _jitter(rng, st.colour(STATIC), st.colour_jitter))


DRAWERS = {
    'car': _draw_car, 'truck': _draw_truck, 'bus': _draw_bus, 'caravan': _draw_caravan,
    'train': _draw_train, 'person': _draw_person, 'bike_rider': _draw_bike_rider,
    'moto_rider': _draw_moto_rider, 'parked_bike': _draw_parked_bike,
    'parked_moto': _draw_parked_moto, 'lamp': _draw_lamp, 'sign': _draw_sign_pole,
    'light': _draw_light_pole, 'tree': _draw_tree, 'bin': _draw_bin,
}


# ----------------------------------------------------------------------------- object placement
Placement = Tuple[float, str, float, int]   # (distance z, drawer name, lateral u, side)


def _side(rng: np.random.Generator) -> int:
    """A random road side, -1 (left) or +1 (right)."""
    return int(rng.choice([-1, 1]))


def _plan_vehicles(st: SceneStyle, rng: np.random.Generator, geo: Dict) -> List[Placement]:
    """Cars in lanes or parked at the edge, plus occasional trucks, buses, caravans and trams."""
    rh, plan = geo['rh'], []
    for _ in range(int(rng.integers(st.cars[0], st.cars[1] + 1))):
        side = _side(rng)
        u = side * (rh - 0.2) if rng.random() < 0.35 else side * rh * rng.uniform(0.35, 0.6)
        plan.append((1.0 / rng.uniform(*st.car_depth), 'car', u, side))
    for kind, p in (('truck', st.p_truck), ('bus', st.p_bus), ('caravan', st.p_caravan)):
        if rng.random() < p:
            side = _side(rng)
            lane = rh - 0.27 if kind == 'caravan' else rh * rng.uniform(0.35, 0.6)
            plan.append((1.0 / rng.uniform(st.car_depth[0], 0.55), kind, side * lane, side))
    if rng.random() < st.p_train:
        plan.append((1.0 / rng.uniform(0.07, 0.4), 'train', rh * rng.uniform(-0.2, 0.2), 1))
    return plan


def _plan_people(st: SceneStyle, rng: np.random.Generator, geo: Dict) -> List[Placement]:
    """Pedestrians (mostly on sidewalks), riders near the road edge and parked two-wheelers."""
    rh, plan = geo['rh'], []
    for _ in range(int(rng.integers(st.persons[0], st.persons[1] + 1))):
        side = _side(rng)
        sw = geo['sides'][side]['sw']
        u = side * rh * rng.uniform(-0.8, 0.8) if rng.random() < 0.12 else \
            side * (rh + rng.uniform(0.06, sw - 0.04))
        plan.append((1.0 / rng.uniform(0.05, 0.8), 'person', u, side))
    for _ in range(int(rng.integers(st.riders[0], st.riders[1] + 1))):
        side = _side(rng)
        kind = 'moto_rider' if rng.random() < st.p_motorcycle else 'bike_rider'
        u = side * (rh - rng.uniform(0.08, 0.2))
        plan.append((1.0 / rng.uniform(0.07, 0.75), kind, u, side))
    for side in (-1, 1):
        if rng.random() < 0.3:
            u = side * (rh + geo['sides'][side]['sw'] * 0.5)
            plan.append((1.0 / rng.uniform(0.1, 0.8), 'parked_bike', u, side))
    if rng.random() < 0.15:
        side = _side(rng)
        plan.append((1.0 / rng.uniform(0.1, 0.7), 'parked_moto', side * (rh - 0.1), side))
    return plan


def _plan_furniture(st: SceneStyle, rng: np.random.Generator, geo: Dict) -> List[Placement]:
    """Street lamps, sign poles and traffic lights at the curb, trees and bins on the sidewalks."""
    rh, plan = geo['rh'], []
    for side in (-1, 1):
        sw, kind = geo['sides'][side]['sw'], geo['sides'][side]['kind']
        for z in np.cumsum(rng.uniform(2.0, 6.0, size=int(rng.integers(1, 4)))):
            plan.append((float(z), 'lamp', side * (rh + 0.06), side))
        n_trees = int(rng.integers(1, 6) if kind == 'park' else rng.integers(0, 4))
        for _ in range(n_trees):
            plan.append((1.0 / rng.uniform(0.04, 0.6), 'tree', side * (rh + sw - 0.08), side))
        if rng.random() < 0.4:
            plan.append((1.0 / rng.uniform(0.1, 0.8), 'bin', side * (rh + sw * 0.7), side))
    for kind, count in (('sign', rng.integers(1, 4)), ('light', rng.integers(0, 3))):
        for _ in range(int(count)):
            side = _side(rng)
            plan.append((1.0 / rng.uniform(0.08, 0.7), kind, side * (rh + 0.1), side))
    return plan


def _draw_objects(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict) -> None:
    """Place all objects and draw them from far to near (painter's algorithm)."""
    plan = _plan_vehicles(st, rng, geo) + _plan_people(st, rng, geo) + _plan_furniture(st, rng, geo)
    for z, kind, u, side in sorted(plan, key=lambda item: -item[0]):
        DRAWERS[kind](canvas, st, rng, geo, u, z, side)


def _draw_ego(canvas: Canvas, st: SceneStyle, rng: np.random.Generator, geo: Dict) -> None:
    """The ego-vehicle hood (void id 1) covering the bottom rows, with a reflection line."""
    width, height = geo['W'], geo['H']
    hood = rng.uniform(0.06, 0.1) * height
    centre = (int(width * rng.uniform(0.48, 0.52)), int(height + 0.6 * hood))
    axes = (int(0.8 * width), int(1.6 * hood) + 1)
    colour = _jitter(rng, st.colour(EGO), st.colour_jitter / 2)
    cv2.ellipse(canvas[1], centre, axes, 0, 0, 360, EGO, -1)
    cv2.ellipse(canvas[0], centre, axes, 0, 0, 360, colour, -1)
    glint = (max(1, axes[0] // 2), max(1, axes[1] - 2))
    cv2.ellipse(canvas[0], (centre[0], centre[1] + 2), glint, 0, 200, 340, _scaled(colour, 2.2),
                max(1, height // 256))


# ----------------------------------------------------------------------------- camera / sensor mode
def _texture(lab: np.ndarray, st: SceneStyle, rng: np.random.Generator) -> np.ndarray:
    """Per-class luminance texture: smooth blotches plus fine grain, scaled per label id."""
    height, width = lab.shape
    coarse = rng.standard_normal((max(2, height // 8), max(2, width // 8)), dtype=np.float32)
    coarse = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.standard_normal((height, width), dtype=np.float32) * np.float32(0.6)
    return (coarse + fine) * np.float32(st.texture_amp) * TEXTURE_GAIN[lab]


def _vignette(height: int, width: int, strength: float) -> np.ndarray:
    """Radial brightness fall-off: 1 in the centre, ``1 - strength`` in the corners."""
    ys = (np.arange(height, dtype=np.float32) - (height - 1) / 2) / max(height / 2, 1)
    xs = (np.arange(width, dtype=np.float32) - (width - 1) / 2) / max(width / 2, 1)
    r2 = ys[:, None] ** 2 + xs[None, :] ** 2
    return (1.0 - strength * r2 / 2.0).astype(np.float32)


def _camera(img: np.ndarray, lab: np.ndarray, st: SceneStyle,
            rng: np.random.Generator) -> np.ndarray:
    """Apply texture, colour grading, gamma, vignetting, optical blur and sensor noise."""
    height, width = lab.shape
    f = img.astype(np.float32) + _texture(lab, st, rng)[..., None]
    grey = f.mean(axis=2, keepdims=True)
    f = grey + np.float32(st.saturation) * (f - grey)
    exposure = np.float32(rng.uniform(0.9, 1.08))
    f = ((f - 128.0) * np.float32(st.contrast) + 128.0 + np.float32(st.brightness)) * exposure
    f = f * np.asarray(st.colour_gain, dtype=np.float32)
    f = 255.0 * (np.clip(f, 0.0, 255.0) / 255.0) ** np.float32(st.gamma)
    if st.vignette > 0:
        f *= _vignette(height, width, st.vignette)[..., None]
    if st.blur_sigma > 0:
        f = cv2.GaussianBlur(f, (0, 0), st.blur_sigma * width / 512.0)
    if st.noise_sigma > 0:
        f += rng.standard_normal(f.shape, dtype=np.float32) * np.float32(st.noise_sigma)
    return np.clip(f + 0.5, 0.0, 255.0).astype(np.uint8)


def render_scene(style: str, seed: int, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Render one scene of ``size=(W, H)``: (BGR uint8 HxWx3 image, uint8 HxW Cityscapes ids)."""
    st = get_style(style)
    width, height = check_size(size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}')
    rng = np.random.default_rng([st.rng_offset, int(seed)])
    geo = _layout(st, rng, width, height)
    canvas = (np.zeros((height, width, 3), np.uint8), np.zeros((height, width), np.uint8))
    _draw_sky(canvas, st, rng, geo)
    _draw_skyline(canvas, st, rng, geo)
    _draw_ground(canvas, st, rng, geo)
    for side in (-1, 1):
        _draw_roadside(canvas, st, rng, geo, side)
    _draw_objects(canvas, st, rng, geo)
    if st.ego_vehicle:
        _draw_ego(canvas, st, rng, geo)
    return _camera(canvas[0], canvas[1], st, rng), canvas[1]
