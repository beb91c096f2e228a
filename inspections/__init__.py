"""无事不扰: inspection filings (凡检必报), checked by enterprises at the door and rated afterwards."""
