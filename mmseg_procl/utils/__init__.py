"""Utilities: checkpoint loading, registration of all modules."""
from .checkpoint import load_checkpoint_file, load_segmentor_checkpoint, segmentor_state_dict
from .setup_env import register_all_modules

__all__ = ['load_checkpoint_file', 'load_segmentor_checkpoint', 'segmentor_state_dict',
           'register_all_modules']
