"""Test configs from the dumped configs of the DAFormer family's released models (mmseg 0.x layout).

The original repositories (DAFormer, github.com/lhoyer/DAFormer; CLIP-ProCL,
github.com/bupt-ai-cz/CLIP-ProCL; SePiCo, github.com/BIT-DA/SePiCo; MIC, github.com/lhoyer/MIC) dump the
fully merged mmcv config of a run into its work dir, as ``<run name>.json`` (MIC: ``.py``) beside
``latest.pth``; their ``tools/test.py`` builds the plain segmentor of ``model`` and the dataset of
``data.test`` from it (docs/checkpoints.md §2).  :func:`load_legacy_config` reads such a file and
translates what testing needs into this package's config:

    model (type, backbone, decode_head, auxiliary_head, test_cfg; pretrained dropped)
        -> the segmentor (EncoderDecoder / CLIPEncoderDecoder / HRDAEncoderDecoder and their parts)
    data.test (type, data_root, img_dir, ann_dir, split, suffixes, pipeline)
        -> test_dataloader (LoadImageFromFile, Resize, LoadAnnotations, PackSegInputs)
    Normalize of the test pipeline (else img_norm_cfg) -> model.data_preprocessor

Training-only entries (losses, ``init_cfg``, ``uda``, optimizer, schedules, training data, runtime)
are not translated and are named in :attr:`LegacyTranslation.unused`; a type or key without a
counterpart here is a :class:`~mmseg_procl.errors.ConfigError` naming it.  The file is read without
executing it: JSON, or a ``.py`` dump made of literal assignments (``name = dict(...)``).  Runtime
settings (hooks, registry scope) come from this package's ``configs/_base_/default_runtime.py``.

Call graph::

    load_legacy_config -> read_legacy_file (json | literal .py) -> apply_legacy_options
                       -> translate -> translate_model -> translate_backbone / translate_decode_head
                                                        / translate_auxiliary_head / translate_clip
                                    -> translate_test_data -> translate_test_pipeline
"""
import ast
import difflib
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from mmengine.config import Config

from mmseg_procl.errors import ConfigError

RUNTIME_BASE = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                        '_base_', 'default_runtime.py')
# segmentor types of the family -> (this package's type, what it is)
SEGMENTORS = {'EncoderDecoder': 'EncoderDecoder',
              'EncoderDecoderProjector': 'EncoderDecoder',           # SePiCo: + ProjHead
              'CLIPEncoderDecoderProjector': 'CLIPEncoderDecoder',   # CLIP-ProCL
              'HRDAEncoderDecoder': 'HRDAEncoderDecoder',            # HRDA / MIC
              'MultiResEncoderDecoder': 'HRDAEncoderDecoder'}        # HRDA's pre-release name
HRDA_SEGMENTORS = ('HRDAEncoderDecoder', 'MultiResEncoderDecoder')
# SePiCo's EncoderDecoderProjector re-weights the softmax of every *_rgb_anon.png image (Dark Zurich, ACDC)
# with the log-frequency prior at scale 0.16 in simple_test, whatever the benchmark it was trained for
SEPICO_TEST_PRIOR = dict(frequencies='dark_zurich', scale=0.16, img_suffix='_rgb_anon.png')
HRDA_HEADS = ('HRDAHead', 'MultiResAttentionWrapper')
# HRDA segmentor / head keys: passed on (renamed where needed) or fixed to the values reproduced here
HRDA_SEGMENTOR_KEYS = ('scales', 'hr_crop_size', 'hr_slide_inference', 'hr_slide_overlapping',
                       'crop_coord_divisible', 'blur_hr_crop', 'feature_scale')
HRDA_HEAD_KEYS = ('single_scale_head', 'lr_loss_weight', 'hr_loss_weight', 'scales', 'attention_embed_dim',
                  'attention_classwise', 'enable_hr_crop', 'hr_slide_inference', 'fixed_attention',
                  'debug_output_attention')
HRDA_FIXED = dict(lr_loss_weight=0, blur_hr_crop=False, fixed_attention=None)
DECODE_HEADS = ('DLV2Head', 'DAFormerHead', 'UniHead', 'SegFormerHead')
MIT_BACKBONES = tuple(f'mit_b{i}' for i in range(6))
DATASETS = ('CityscapesDataset', 'ACDCDataset', 'DarkZurichDataset', 'GTADataset', 'SynthiaDataset')
TRAINING_ONLY = ('init_cfg', 'loss_decode', 'pretrained', 'train_cfg')
# keys accepted per part: passed on (same name and meaning here) or dropped (training only / fixed)
RESNET_KEYS = ('depth', 'num_stages', 'out_indices', 'dilations', 'strides', 'norm_cfg', 'norm_eval',
               'style', 'contract_dilation', 'frozen_stages')
RESNET_DROPPED = ('init_cfg', 'pretrained', 'with_cp', 'zero_init_residual')
MIT_KEYS = ('style', 'drop_rate', 'attn_drop_rate', 'drop_path_rate', 'in_channels')
MIT_DROPPED = ('init_cfg', 'pretrained', 'ema_drop_path_rate')
HEAD_KEYS = ('in_channels', 'in_index', 'channels', 'dropout_ratio', 'num_classes', 'norm_cfg',
             'act_cfg', 'align_corners', 'input_transform', 'ignore_index', 'decoder_params')
DLV2_KEYS = ('in_channels', 'in_index', 'dilations', 'num_classes', 'align_corners', 'ignore_index')
DLV2_DROPPED = TRAINING_ONLY + ('channels', 'dropout_ratio', 'norm_cfg', 'input_transform')
PROJ_KEYS = ('in_channels', 'in_index', 'input_transform', 'channels', 'num_convs', 'kernel_size',
             'dilation', 'norm_cfg', 'act_cfg', 'align_corners')
PROJ_DROPPED = TRAINING_ONLY + ('dropout_ratio', 'num_classes')
TEST_CFG_KEYS = ('mode', 'crop_size', 'stride', 'batched_slide')
# parts whose keys the translation checks one by one: an override may add a key there
CHECKED_PARTS = ('model', 'model.backbone', 'model.decode_head', 'model.auxiliary_head', 'model.test_cfg',
                 'model.clip', 'data.test')
DATA_KEYS = ('type', 'data_root', 'img_dir', 'ann_dir', 'split', 'img_suffix', 'seg_map_suffix',
             'pipeline', 'test_mode', 'ignore_index', 'reduce_zero_label', 'classes', 'palette')
# CLIP-ProCL's text transformer settings that this package's CLIPTextEncoder reproduces (fixed values)
CLIP_TEXT_FIXED = dict(type='TextTransformer', mlp_ratio=4, out_indices=-1, qkv_bias=True, drop_rate=0.0,
                       attn_drop_rate=0.0, drop_path_rate=0.0, norm_cfg=dict(type='LN'),
                       pre_norm=False, final_norm=True, return_qkv=False, skip_last_attn=False,
                       num_fcs=2, norm_eval=False)
CLIP_TEXT_ACTIVATIONS = {'GELU': 'gelu', 'QuickGELU': 'quick_gelu'}
CLIP_VISUAL_DEPTHS = {50: 'RN50', 101: 'RN101'}


@dataclass
class LegacyTranslation:
    """A translated test config and what of the legacy file it did not use (training-only parts)."""

    config: Config
    unused: List[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- reading
def read_legacy_file(path: str) -> Dict[str, Any]:
    """The content of a dumped legacy config (``.json``, or a literal ``.py``), without executing it."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if path.endswith('.json'):
        try:
            content = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f'config {path} is not valid JSON: {err}') from None
    else:
        content = literal_assignments(text, path)
    if not isinstance(content, dict):
        raise ConfigError(f'config {path} holds a {type(content).__name__}; expected a dict of config keys')
    return content


def literal_assignments(text: str, path: str) -> Dict[str, Any]:
    """``name = <literal>`` statements of a dumped ``.py`` config (mmcv ``Config.dump``) as a dict.

    Literals are numbers, strings, booleans, None, lists, tuples, dicts and ``dict(key=...)`` calls;
    anything else (imports, expressions, other calls) is a :class:`ConfigError` naming the line.
    """
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as err:
        raise ConfigError(f'config {path} is not valid Python: {err}') from None
    content = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise ConfigError(f'{path}:{node.lineno}: expected only "name = <literal>" assignments '
                              '(a dumped config); this file is read, never executed')
        content[node.targets[0].id] = literal_value(node.value, path)
    return content


def literal_value(node: ast.AST, path: str) -> Any:
    """The value of one literal expression node (see :func:`literal_assignments`)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [literal_value(n, path) for n in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {literal_value(k, path): literal_value(v, path) for k, v in zip(node.keys, node.values)}
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict'
            and not node.args and all(kw.arg for kw in node.keywords)):
        return {kw.arg: literal_value(kw.value, path) for kw in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
            and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    raise ConfigError(f'{path}:{node.lineno}: {ast.unparse(node)[:80]!r} is not a literal; a dumped '
                      'config holds only literals (this file is read, never executed)')


def is_legacy_config(path: str) -> bool:
    """Whether ``path`` is a dumped mmseg 0.x config: a ``.json`` that is not an mmengine config (a
    JSON file that cannot be read counts as legacy, so that reading it reports why), or a literal
    ``.py`` with ``data.test`` and without ``test_dataloader``."""
    if not (path.endswith(('.json', '.py')) and osp.isfile(path)):
        return False
    try:
        content = read_legacy_file(path)
    except ConfigError:
        return path.endswith('.json')  # .py: a Python config of this package (bases, variables, code)
    if path.endswith('.json'):
        return not any(k in content for k in ('test_dataloader', 'train_dataloader', 'default_scope'))
    data = content.get('data')
    return isinstance(data, dict) and 'test' in data and 'test_dataloader' not in content


# ----------------------------------------------------------------------------- helpers
def check_keys(part: Dict, path: str, passed: Tuple[str, ...], dropped: Tuple[str, ...] = (),
               unused: Optional[List[str]] = None) -> Dict:
    """The entries of ``part`` named in ``passed``; ``dropped`` ones are recorded in ``unused``;
    any other key (besides ``type``) is a :class:`ConfigError` naming ``path.key``."""
    unknown = sorted(k for k in part if k != 'type' and k not in passed and k not in dropped)
    if unknown:
        close = difflib.get_close_matches(unknown[0], passed + dropped, n=1, cutoff=0.7)
        raise ConfigError(f'legacy config: {path}.{unknown[0]} (type {part.get("type")!r}) has no '
                          'counterpart in this package'
                          + (f"; did you mean '{close[0]}'?" if close else '')
                          + f'; {path} may hold {sorted(passed + dropped)}'
                          + (f' (also unknown: {unknown[1:]})' if len(unknown) > 1 else ''))
    if unused is not None:
        unused.extend(f'{path}.{k}' for k in dropped if k in part)
    return {k: tuplify(v) for k, v in part.items() if k in passed}


def tuplify(value: Any) -> Any:
    """JSON turns tuples into lists; sequences of numbers become tuples again (e.g. dilations)."""
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return tuple(value)
    if isinstance(value, dict):
        return {k: tuplify(v) for k, v in value.items()}
    return value


def require_type(part: Any, path: str, known: Tuple[str, ...]) -> str:
    """``part['type']``, which must be one of ``known`` (else a ConfigError naming it)."""
    if not isinstance(part, dict) or 'type' not in part:
        raise ConfigError(f'legacy config: {path} must be a dict with a type, got {part!r}')
    kind = part['type']
    if kind in HRDA_HEADS and kind not in known:
        raise ConfigError(f'legacy config: {path}.type={kind!r} needs an HRDA segmentor '
                          f'(model.type one of {list(HRDA_SEGMENTORS)})')
    if kind not in known:
        raise ConfigError(f'legacy config: {path}.type={kind!r} has no counterpart in this package; '
                          f'expected one of {list(known)}')
    return kind


# ----------------------------------------------------------------------------- model
def translate_backbone(backbone: Dict, unused: List[str]) -> Dict:
    """ResNetV1c or a MiT preset, without pretrained / init settings."""
    kind = require_type(backbone, 'model.backbone', ('ResNetV1c',) + MIT_BACKBONES)
    if kind == 'ResNetV1c':
        return dict(type=kind, **check_keys(backbone, 'model.backbone', RESNET_KEYS, RESNET_DROPPED,
                                            unused))
    return dict(type=kind, **check_keys(backbone, 'model.backbone', MIT_KEYS, MIT_DROPPED, unused))


def translate_decode_head(head: Dict, unused: List[str]) -> Dict:
    """DLV2Head, DAFormerHead (legacy name UniHead), SegFormerHead; losses and init dropped."""
    kind = require_type(head, 'model.decode_head', DECODE_HEADS)
    if kind == 'DLV2Head':
        return dict(type=kind, **check_keys(head, 'model.decode_head', DLV2_KEYS, DLV2_DROPPED, unused))
    out = check_keys(head, 'model.decode_head', HEAD_KEYS, TRAINING_ONLY, unused)
    if kind == 'UniHead':                 # DAFormer's pre-release name; fusion_cfg.fusion was unused
        kind = 'DAFormerHead'
        params = dict(out.get('decoder_params') or {})
        if isinstance(params.get('fusion_cfg'), dict):
            params['fusion_cfg'] = {k: v for k, v in params['fusion_cfg'].items() if k != 'fusion'}
        out['decoder_params'] = params
    return dict(type=kind, **out)


def translate_auxiliary_head(head: Any, segmentor: str, unused: List[str]) -> Optional[Dict]:
    """SePiCo's / CLIP-ProCL's ProjHead (their kernel-size defaults differ: 1 / 3)."""
    if head is None:
        return None
    if isinstance(head, dict) and head.get('type') != 'ProjHead':
        raise ConfigError(f"legacy config: model.auxiliary_head.type={head.get('type')!r} has no "
                          "counterpart in this package (expected 'ProjHead'); it is not used for "
                          'prediction: drop it with --cfg-options model.auxiliary_head=None')
    require_type(head, 'model.auxiliary_head', ('ProjHead',))
    out = dict(type='ProjHead', **check_keys(head, 'model.auxiliary_head', PROJ_KEYS, PROJ_DROPPED,
                                             unused))
    if segmentor == 'CLIPEncoderDecoderProjector':
        # CLIP-ProCL's ProjHead: 3x3 convs by default and an unused conv_seg kept in its checkpoints
        out.setdefault('kernel_size', 3)
        out.update(keep_conv_seg=True, num_classes=head.get('num_classes', 19))
    else:
        out.setdefault('kernel_size', 1)
    return out


def translate_clip(clip: Any, unused: List[str]) -> Dict:
    """CLIP-ProCL's ``model.clip`` -> CLIPEncoderDecoder's towers, prompts and fusion switches."""
    path = 'model.clip'
    if not isinstance(clip, dict):
        raise ConfigError(f'legacy config: CLIPEncoderDecoderProjector needs {path} (a dict), got {clip!r}')
    keys = ('feature_fusion', 'text_channels', 'cls_bg', 'clip_channels', 'clip_visual_cfg',
            'clip_text_cfg', 'n_ctx', 'clip_weights_path', 'dataset_name')
    part = check_keys(clip, path, keys)
    if part.get('cls_bg', False):
        raise ConfigError(f'legacy config: {path}.cls_bg=True (a background prompt) has no counterpart here')
    if part.get('dataset_name', 'cityscapes') != 'cityscapes':
        raise ConfigError(f"legacy config: {path}.dataset_name={part['dataset_name']!r}: only the 19 "
                          "Cityscapes class prompts ('cityscapes') exist here")
    if 'clip_weights_path' in part:
        unused.append(f'{path}.clip_weights_path (test-time weights come from the checkpoint)')
    visual = translate_clip_visual(part.get('clip_visual_cfg'))
    text = translate_clip_text(part.get('clip_text_cfg'))
    for key, value in (('text_channels', text['output_dim']), ('clip_channels', 2048)):
        if key in part and part[key] != value:
            raise ConfigError(f'legacy config: {path}.{key}={part[key]} does not match the towers '
                              f'({value})')
    return dict(clip_visual=visual, clip_text=text,
                prompt_learner=dict(type='PromptLearner', class_names=None, n_ctx=part.get('n_ctx', 16),
                                    ctx_init='a photo of a'),
                clip_weights=None, feature_fusion=part.get('feature_fusion', True), clip_bn='train')


def translate_clip_visual(cfg: Any) -> Dict:
    """``ResNetClip`` (depth 50 / 101) -> ``CLIPResNet`` fed ImageNet-normalised input (reference)."""
    path = 'model.clip.clip_visual_cfg'
    require_type(cfg, path, ('ResNetClip',))
    part = check_keys(cfg, path, ('depth', 'norm_cfg', 'contract_dilation'))
    depth = part.get('depth', 101)
    if depth not in CLIP_VISUAL_DEPTHS:
        raise ConfigError(f'legacy config: {path}.depth={depth}: expected one of {sorted(CLIP_VISUAL_DEPTHS)}')
    return dict(type='CLIPResNet', arch=CLIP_VISUAL_DEPTHS[depth], input='imagenet')


def translate_clip_text(cfg: Any) -> Dict:
    """``TextTransformer`` -> ``CLIPTextEncoder``; settings it does not reproduce are refused."""
    path = 'model.clip.clip_text_cfg'
    require_type(cfg, path, ('TextTransformer',))
    sizes = ('vocab_size', 'context_length', 'embed_dims', 'output_dims', 'num_layers', 'num_heads',
             'act_cfg')
    part = check_keys(cfg, path, sizes + tuple(k for k in CLIP_TEXT_FIXED if k != 'type'))
    for key, expected in CLIP_TEXT_FIXED.items():
        if key != 'type' and key in part and part[key] != tuplify(expected):
            raise ConfigError(f'legacy config: {path}.{key}={part[key]!r} has no counterpart here '
                              f'(CLIPTextEncoder reproduces {key}={expected!r})')
    act = (part.get('act_cfg') or {}).get('type', 'GELU')
    if act not in CLIP_TEXT_ACTIVATIONS:
        raise ConfigError(f'legacy config: {path}.act_cfg.type={act!r}: expected one of '
                          f'{sorted(CLIP_TEXT_ACTIVATIONS)}')
    return dict(type='CLIPTextEncoder', context_length=part.get('context_length', 77),
                vocab_size=part.get('vocab_size', 49408), width=part.get('embed_dims', 512),
                heads=part.get('num_heads', 8), layers=part.get('num_layers', 12),
                output_dim=part.get('output_dims', 512), activation=CLIP_TEXT_ACTIVATIONS[act])


def check_fixed(part: Dict, path: str) -> None:
    """HRDA settings this package reproduces only at the released values (:data:`HRDA_FIXED`)."""
    for key, value in HRDA_FIXED.items():
        if key in part and part[key] != value:
            raise ConfigError(f'legacy config: {path}.{key}={part[key]!r} has no counterpart here '
                              f'(HRDA is reproduced with {key}={value!r})')


def translate_hrda_head(head: Dict, scales, unused: List[str]) -> Dict:
    """HRDA's ``HRDAHead`` (legacy ``MultiResAttentionWrapper``): its own keys, the rest is the
    single-scale head (``single_scale_head``) -> ``HRDAHead(head=...)``."""
    require_type(head, 'model.decode_head', HRDA_HEADS)
    own = {k: head[k] for k in HRDA_HEAD_KEYS if k in head}
    check_fixed(own, 'model.decode_head')
    single = {k: v for k, v in head.items() if k not in HRDA_HEAD_KEYS}
    single['type'] = own.get('single_scale_head', 'DAFormerHead')
    out = dict(type='HRDAHead', head=translate_decode_head(single, unused),
               scales=tuple(sorted(scales)), hr_loss_weight=own.get('hr_loss_weight', 0.0),
               attention_classwise=own.get('attention_classwise', True))
    if 'attention_embed_dim' in own:
        out['attention_embed_dim'] = own['attention_embed_dim']
    return out


def translate_hrda(model: Dict, out: Dict, unused: List[str]) -> None:
    """The HRDA segmentor's own keys and its head, into ``out``."""
    own = {k: tuplify(model[k]) for k in HRDA_SEGMENTOR_KEYS if k in model}
    check_fixed(own, 'model')
    scales = own.pop('scales', (1, 0.5))
    own.pop('blur_hr_crop', None)
    out['decode_head'] = translate_hrda_head(model.get('decode_head'), scales, unused)
    out.update(own)


def translate_model(model: Any, preprocessor: Dict, unused: List[str]) -> Dict:
    """The plain segmentor of a legacy ``model`` (UDA wrappers are not part of ``model``)."""
    kind = require_type(model, 'model', tuple(SEGMENTORS))
    keys = ('backbone', 'decode_head', 'auxiliary_head', 'test_cfg', 'clip')
    hrda = HRDA_SEGMENTOR_KEYS if kind in HRDA_SEGMENTORS else ()
    part = check_keys(model, 'model', keys + hrda, TRAINING_ONLY, unused)
    if kind in HRDA_SEGMENTORS:
        out = dict(type='HRDAEncoderDecoder', data_preprocessor=preprocessor,
                   backbone=translate_backbone(part.get('backbone'), unused), test_cfg=dict(mode='whole'))
        translate_hrda(model, out, unused)
        if part.get('test_cfg'):
            out['test_cfg'] = check_keys(part['test_cfg'], 'model.test_cfg', TEST_CFG_KEYS)
        if part.get('auxiliary_head') is not None:
            raise ConfigError('legacy config: model.auxiliary_head with an HRDA segmentor has no counterpart '
                              'here (the reference raises NotImplementedError for it too)')
        return out
    if kind != 'CLIPEncoderDecoderProjector' and 'clip' in part:
        raise ConfigError(f'legacy config: model.clip is only read by CLIPEncoderDecoderProjector, not {kind!r}')
    out = dict(type=SEGMENTORS[kind], data_preprocessor=preprocessor,
               backbone=translate_backbone(part.get('backbone'), unused),
               decode_head=translate_decode_head(part.get('decode_head'), unused),
               test_cfg=dict(mode='whole'))
    aux = translate_auxiliary_head(part.get('auxiliary_head'), kind, unused)
    if aux is not None:
        out['auxiliary_head'] = aux
    if part.get('test_cfg'):
        out['test_cfg'] = check_keys(part['test_cfg'], 'model.test_cfg', TEST_CFG_KEYS)
    if kind == 'EncoderDecoderProjector':
        out['test_cfg'] = dict(out['test_cfg'], class_prior=SEPICO_TEST_PRIOR)
    if kind == 'CLIPEncoderDecoderProjector':
        out.update(translate_clip(part.get('clip'), unused))
    return out


# ----------------------------------------------------------------------------- data
def translate_test_pipeline(pipeline: Any, img_norm_cfg: Optional[Dict]) -> Tuple[List[Dict], Dict]:
    """The test pipeline and the normalisation (for the data preprocessor) of a legacy ``data.test``.

    mmseg 0.x: ``LoadImageFromFile``, ``MultiScaleFlipAug(img_scale, flip=False, transforms=[Resize
    (keep_ratio), RandomFlip, Normalize, ImageToTensor, Collect])``.  Multi-scale / flip testing
    (``img_ratios``, ``flip=True``) is refused: this package tests at one scale.
    """
    path = 'data.test.pipeline'
    if not isinstance(pipeline, list) or not pipeline:
        raise ConfigError(f'legacy config: {path} must be a non-empty list, got {pipeline!r}')
    scale, keep_ratio, norm = None, True, img_norm_cfg
    for i, step in enumerate(flatten_pipeline(pipeline, path)):
        kind, where = step.get('type'), f'{path}[{i}] ({step.get("type")})'
        if kind == 'MultiScaleFlipAug':
            if step.get('flip') or step.get('img_ratios'):
                raise ConfigError(f'legacy config: {where}: multi-scale / flip testing (img_ratios='
                                  f'{step.get("img_ratios")}, flip={step.get("flip")}) is not '
                                  'supported; set flip=False and remove img_ratios')
            scale = step.get('img_scale')
        elif kind == 'Resize':
            keep_ratio = step.get('keep_ratio', True)
            scale = step.get('img_scale') or scale
        elif kind == 'Normalize':
            norm = step
        elif kind not in ('LoadImageFromFile', 'RandomFlip', 'ImageToTensor', 'Collect',
                          'DefaultFormatBundle', 'LoadAnnotations'):
            raise ConfigError(f'legacy config: {where}: transform type {kind!r} has no counterpart '
                              'in this package\'s test pipeline')
    if scale is None:
        raise ConfigError(f'legacy config: {path} has no img_scale (MultiScaleFlipAug or Resize)')
    if norm is None:
        raise ConfigError(f'legacy config: neither {path} (Normalize) nor img_norm_cfg gives mean / std')
    scale = tuple(scale[0]) if isinstance(scale[0], (list, tuple)) else tuple(scale)
    steps = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=scale, keep_ratio=keep_ratio),
             dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    preprocessor = dict(type='SegDataPreProcessor', mean=list(norm['mean']), std=list(norm['std']),
                        bgr_to_rgb=bool(norm.get('to_rgb', True)), pad_val=0, seg_pad_val=255)
    return steps, preprocessor


def flatten_pipeline(pipeline: List, path: str) -> List[Dict]:
    """The transforms of a pipeline with ``MultiScaleFlipAug``'s inner ``transforms`` inlined."""
    steps = []
    for step in pipeline:
        if not isinstance(step, dict) or 'type' not in step:
            raise ConfigError(f'legacy config: {path} holds {step!r}; expected dicts with a type')
        steps.append(step)
        if step['type'] == 'MultiScaleFlipAug':
            steps.extend(flatten_pipeline(step.get('transforms', []), path + '.transforms'))
    return steps


def translate_test_data(data: Any, img_norm_cfg: Optional[Dict], unused: List[str]
                        ) -> Tuple[Dict, Dict]:
    """``data.test`` -> (test_dataloader, data preprocessor config)."""
    if not isinstance(data, dict) or not isinstance(data.get('test'), dict):
        raise ConfigError('legacy config: data.test is missing; expected the dumped test dataset '
                          '(data=dict(test=dict(type=..., data_root=..., img_dir=..., pipeline=...)))')
    test = data['test']
    kind = require_type(test, 'data.test', DATASETS)
    part = check_keys(test, 'data.test', DATA_KEYS)
    for key in ('reduce_zero_label', 'classes', 'palette'):
        if part.get(key):
            raise ConfigError(f'legacy config: data.test.{key}={part[key]!r} has no counterpart here '
                              '(the datasets use the 19 Cityscapes train ids)')
    pipeline, preprocessor = translate_test_pipeline(part.get('pipeline'), img_norm_cfg)
    prefix = dict(img_path=part.get('img_dir', ''))
    if part.get('ann_dir'):
        prefix['seg_map_path'] = part['ann_dir']
    else:                                   # no labels (a test split): nothing to load
        pipeline = [t for t in pipeline if t['type'] != 'LoadAnnotations']
    dataset = dict(type=kind, data_root=part.get('data_root', ''), data_prefix=prefix,
                   pipeline=pipeline, test_mode=True)
    if part.get('split'):
        dataset['ann_file'] = part['split']
    for key in ('img_suffix', 'seg_map_suffix', 'ignore_index'):
        if key in part:
            dataset[key] = part[key]
    workers = min(int(data.get('workers_per_gpu', 2)), os.cpu_count() or 1)
    loader = dict(batch_size=1, num_workers=workers,
                  persistent_workers=False, sampler=dict(type='DefaultSampler', shuffle=False),
                  dataset=dataset)
    unused.extend(f'data.{k}' for k in data if k != 'test')
    return loader, preprocessor


# ----------------------------------------------------------------------------- entry points
def check_legacy_option(legacy: Dict, key: str, path: str) -> None:
    """A ``--cfg-options`` key for the legacy file must name an existing entry; a new entry is only
    allowed in the parts whose keys the translation checks (:data:`CHECKED_PARTS`), so that a typo
    (``data.tset.data_root``, ``...pipeline.1.img_scal``) cannot be silently ignored."""
    parts, node = key.split('.'), legacy
    for depth, part in enumerate(parts):
        parent = '.'.join(parts[:depth])
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
            continue
        if isinstance(node, dict) and depth == len(parts) - 1 and parent in CHECKED_PARTS:
            return
        options = list(node) if isinstance(node, dict) else []
        close = difflib.get_close_matches(part, options, n=1, cutoff=0.6)
        raise ConfigError(f'--cfg-options {key}: {path} has no entry {".".join(parts[:depth + 1])!r}'
                          + (f"; did you mean '{close[0]}'?" if close else '')
                          + (f' ({parent or "the file"} holds {sorted(options)[:20]})' if options else ''))


def apply_legacy_options(legacy: Dict, options: Dict, path: str) -> Tuple[Dict, Dict]:
    """Split ``--cfg-options`` into those addressing the legacy file's keys (applied here, e.g.
    ``data.test.data_root=...``) and the rest (this package's keys, applied after translation)."""
    own = {k: v for k, v in options.items() if k.split('.')[0] not in legacy}
    theirs = {k: v for k, v in options.items() if k not in own}
    for key in theirs:
        check_legacy_option(legacy, key, path)
    cfg = Config(legacy)
    for key, value in theirs.items():
        try:
            cfg.merge_from_dict({key: value})
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise ConfigError(f'--cfg-options {key}={value!r} does not fit {path}: {err}') from None
    return cfg.to_dict(), own


def translate(legacy: Dict, source: str) -> LegacyTranslation:
    """This package's test config for the content of a legacy config file."""
    unused: List[str] = []
    loader, preprocessor = translate_test_data(legacy.get('data'), legacy.get('img_norm_cfg'), unused)
    model = translate_model(legacy.get('model'), preprocessor, unused)
    if not osp.isfile(RUNTIME_BASE):
        raise FileNotFoundError(f'{RUNTIME_BASE} not found: translating a legacy config needs the '
                                "repository's configs/ folder (install with pip install -e .)")
    cfg = Config.fromfile(RUNTIME_BASE)
    cfg.merge_from_dict(dict(model=model, test_dataloader=loader, test_cfg=dict(type='TestLoop'),
                             test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU'])))
    cfg.randomness = dict(seed=legacy.get('seed', 0), deterministic=False)
    unused.extend(sorted(k for k in legacy if k not in ('model', 'data', 'img_norm_cfg', 'seed')))
    # named after the legacy file: the runner calls the test run and its dumped config after it
    named = Config(cfg.to_dict(), cfg_text=f'# translated from {source}\n',
                   filename=osp.splitext(source)[0] + '_translated.py')
    return LegacyTranslation(named, unused)


def load_legacy_config(path: str, cfg_options: Optional[Dict] = None) -> LegacyTranslation:
    """Read and translate a dumped legacy config; ``cfg_options`` may address either namespace."""
    from .config_check import check_config
    from .config_utils import check_override_key, mark_evaluation_datasets
    if path.endswith('.log.json'):
        raise ConfigError(f'{path} is a training log (mmcv writes <timestamp>.log.json beside the run); '
                          'the dumped config is the <run name>.json of the same folder')
    legacy = read_legacy_file(path)
    legacy, own = apply_legacy_options(legacy, dict(cfg_options or {}), path)
    try:
        translation = translate(legacy, path)
    except ConfigError as err:
        raise ConfigError(f'{path}: {err}') from None
    for key in own:
        check_override_key(key, translation.config, f'{path} (translated)')
    translation.config.merge_from_dict(own)
    check_config(translation.config)
    mark_evaluation_datasets(translation.config)
    return translation
