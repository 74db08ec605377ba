"""The main window's parts: the companion stage, the menu bar, remembered state and banner fixes."""
