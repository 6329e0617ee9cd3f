"""ESPnet tasks of the plugin; importing a task module registers its choices in ESPnet."""
