"""Geofences of borderwatch: the catalogue and vectorised zone lookup."""

from geo.catalogue import Catalogue, CrossingKind, Layer, Zones, builtin_path, load_catalogue
from geo.lookup import Locations, crossing_route, locate, locate_one, locate_zones

__all__ = [
    "Catalogue",
    "CrossingKind",
    "Layer",
    "Locations",
    "Zones",
    "builtin_path",
    "crossing_route",
    "load_catalogue",
    "locate",
    "locate_one",
    "locate_zones",
]
