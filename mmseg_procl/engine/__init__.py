"""engine of mmseg_procl (filled by later issues)."""
