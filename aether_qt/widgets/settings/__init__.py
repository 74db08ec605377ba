"""The Settings dialog: every setting the command line has, one page per subject."""
