"""Utilities: checkpoint loading, registration of all modules, the host-synchronisation guard."""
from .checkpoint import load_checkpoint_file, load_segmentor_checkpoint, segmentor_state_dict
from .host_sync import HostSyncError, forbid_host_sync, host_values
from .setup_env import register_all_modules

__all__ = ['load_checkpoint_file', 'load_segmentor_checkpoint', 'segmentor_state_dict',
           'register_all_modules', 'forbid_host_sync', 'host_values', 'HostSyncError']
