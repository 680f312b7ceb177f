"""Rendering styles of the procedural driving-scene generator (the project's embedded default data).

A :class:`SceneStyle` fixes everything that makes one synthetic "domain": per-class colours,
object statistics and the camera / sensor look.  Two styles are defined, mirroring the benchmark's
domain gap:

* ``source`` -- GTA5-like: saturated warm colours, clean sharp images, sunny blue sky, many near
  vehicles, guard rails and caravans;
* ``target`` -- Cityscapes-like: grey overcast sky, desaturated cool hues, sensor noise, blur,
  vignetting, an ego-vehicle hood in the bottom rows, more pedestrians and two-wheelers.

The generator is original to this project (no external source).  Colours are BGR (OpenCV order).
"""
from dataclasses import dataclass
from typing import Tuple

Colour = Tuple[int, int, int]


@dataclass(frozen=True)
class SceneStyle:
    """Colours, object statistics and sensor model of one synthetic domain."""

    name: str
    rng_offset: int
    class_colours: Tuple[Tuple[int, Colour], ...]   # Cityscapes label id -> base BGR colour
    building_colours: Tuple[Colour, ...]
    vehicle_colours: Tuple[Colour, ...]
    clothing_colours: Tuple[Colour, ...]
    sky_top: Colour
    sky_horizon: Colour
    colour_jitter: float       # std of the per-instance colour offset (0..255 scale)
    texture_amp: float         # amplitude of the per-class texture noise
    window_colour: Colour
    horizon: Tuple[float, float]  # horizon row as a fraction of H (min, max)
    road_half: Tuple[float, float]  # half road width in world units (1 unit = image width at s=1)
    cars: Tuple[int, int]          # number of cars (min, max), inclusive
    persons: Tuple[int, int]
    riders: Tuple[int, int]
    car_depth: Tuple[float, float]  # range of the depth parameter s (1 = bottom row) for vehicles
    p_truck: float
    p_bus: float
    p_train: float
    p_caravan: float
    p_guard_rail: float
    p_motorcycle: float       # probability that a rider rides a motorcycle (else a bicycle)
    saturation: float         # 1 = unchanged, <1 desaturates, >1 saturates
    contrast: float
    brightness: float         # additive offset after contrast
    colour_gain: Tuple[float, float, float]  # per-channel BGR gain (colour cast)
    gamma: float
    vignette: float           # 0 = none; fraction of brightness lost in the corners
    blur_sigma: float         # Gaussian blur sigma at 512 px width (scaled with the width)
    noise_sigma: float        # additive Gaussian sensor noise std
    ego_vehicle: bool         # draw the ego-vehicle hood (label id 1) in the bottom rows
    clouds: bool              # draw white clouds into the sky
    sun_shadow: float         # brightness lost by the facades on the shadow side (0 = overcast)

    def colour(self, label_id: int) -> Colour:
        """Base BGR colour of a Cityscapes label id in this style."""
        for key, value in self.class_colours:
            if key == label_id:
                return value
        raise KeyError(f'style {self.name!r} defines no colour for label id {label_id}; '
                       f'defined ids: {[k for k, _ in self.class_colours]}')


def _rgb(r: int, g: int, b: int) -> Colour:
    """Write a colour in RGB, store it in OpenCV's BGR order."""
    return (b, g, r)


SOURCE_STYLE = SceneStyle(
    name='source', rng_offset=7919,
    class_colours=(
        (1, _rgb(30, 30, 30)), (4, _rgb(40, 130, 60)), (7, _rgb(56, 52, 66)),
        (8, _rgb(206, 178, 140)), (9, _rgb(140, 120, 110)), (11, _rgb(214, 170, 116)),
        (12, _rgb(176, 176, 188)), (13, _rgb(150, 96, 50)), (14, _rgb(210, 210, 222)),
        (17, _rgb(104, 104, 118)), (19, _rgb(50, 56, 20)), (20, _rgb(240, 60, 200)),
        (21, _rgb(52, 176, 36)), (22, _rgb(170, 200, 60)), (23, _rgb(60, 140, 240)),
        (24, _rgb(230, 60, 60)), (25, _rgb(250, 120, 20)), (26, _rgb(210, 30, 30)),
        (27, _rgb(120, 60, 180)), (28, _rgb(30, 180, 190)), (29, _rgb(236, 232, 214)),
        (31, _rgb(200, 210, 230)), (32, _rgb(30, 60, 220)), (33, _rgb(220, 200, 30)),
    ),
    building_colours=(_rgb(222, 176, 120), _rgb(196, 104, 72), _rgb(236, 214, 168),
                      _rgb(170, 140, 100), _rgb(230, 150, 100)),
    vehicle_colours=(_rgb(210, 30, 30), _rgb(230, 40, 50), _rgb(190, 20, 40), _rgb(240, 200, 20),
                     _rgb(230, 90, 20), _rgb(30, 90, 220)),
    clothing_colours=(_rgb(230, 60, 60), _rgb(40, 110, 230), _rgb(250, 210, 40),
                      _rgb(60, 190, 80), _rgb(240, 240, 240), _rgb(160, 40, 200)),
    sky_top=_rgb(30, 110, 235), sky_horizon=_rgb(150, 205, 255),
    colour_jitter=10.0, texture_amp=6.0, window_colour=_rgb(90, 170, 230),
    horizon=(0.36, 0.46), road_half=(0.55, 0.9),
    cars=(3, 8), persons=(1, 5), riders=(1, 2), car_depth=(0.12, 0.95),
    p_truck=0.45, p_bus=0.35, p_train=0.2, p_caravan=0.4, p_guard_rail=0.5,
    p_motorcycle=0.5,
    saturation=1.25, contrast=1.1, brightness=8.0, colour_gain=(0.95, 1.0, 1.08), gamma=0.95,
    vignette=0.0, blur_sigma=0.0, noise_sigma=0.0, ego_vehicle=False, clouds=True, sun_shadow=0.35,
)

TARGET_STYLE = SceneStyle(
    name='target', rng_offset=104729,
    class_colours=(
        (1, _rgb(38, 40, 46)), (4, _rgb(96, 96, 90)), (7, _rgb(128, 120, 132)),
        (8, _rgb(150, 146, 150)), (9, _rgb(128, 116, 122)), (11, _rgb(112, 110, 108)),
        (12, _rgb(144, 140, 128)), (13, _rgb(112, 116, 108)), (14, _rgb(150, 150, 150)),
        (17, _rgb(132, 130, 126)), (19, _rgb(28, 30, 32)), (20, _rgb(190, 186, 80)),
        (21, _rgb(78, 98, 52)), (22, _rgb(124, 128, 82)), (23, _rgb(202, 208, 214)),
        (24, _rgb(60, 58, 70)), (25, _rgb(50, 60, 80)), (26, _rgb(40, 42, 50)),
        (27, _rgb(176, 176, 168)), (28, _rgb(220, 206, 90)), (29, _rgb(190, 190, 186)),
        (31, _rgb(200, 200, 206)), (32, _rgb(20, 20, 24)), (33, _rgb(30, 34, 40)),
    ),
    building_colours=(_rgb(118, 114, 110), _rgb(150, 138, 122), _rgb(96, 96, 102),
                      _rgb(132, 120, 104), _rgb(170, 164, 150)),
    vehicle_colours=(_rgb(30, 30, 34), _rgb(150, 152, 156), _rgb(44, 54, 84),
                     _rgb(96, 96, 98), _rgb(188, 190, 192), _rgb(60, 44, 40)),
    clothing_colours=(_rgb(40, 40, 46), _rgb(70, 76, 96), _rgb(120, 110, 96),
                      _rgb(150, 150, 150), _rgb(88, 54, 50), _rgb(30, 30, 30)),
    sky_top=_rgb(184, 192, 204), sky_horizon=_rgb(222, 226, 228),
    colour_jitter=8.0, texture_amp=7.0, window_colour=_rgb(60, 66, 74),
    horizon=(0.42, 0.52), road_half=(0.6, 1.0),
    cars=(2, 7), persons=(2, 9), riders=(1, 3), car_depth=(0.06, 0.7),
    p_truck=0.25, p_bus=0.25, p_train=0.15, p_caravan=0.0, p_guard_rail=0.1,
    p_motorcycle=0.3,
    saturation=0.6, contrast=0.85, brightness=6.0, colour_gain=(1.06, 1.02, 0.94), gamma=1.1,
    vignette=0.3, blur_sigma=0.9, noise_sigma=4.0, ego_vehicle=True, clouds=False, sun_shadow=0.05,
)

STYLES = {'source': SOURCE_STYLE, 'target': TARGET_STYLE}


def get_style(name: str) -> SceneStyle:
    """Return the named style; raise ValueError naming the accepted styles otherwise."""
    if name not in STYLES:
        raise ValueError(f'style must be one of {sorted(STYLES)}, got {name!r}')
    return STYLES[name]
