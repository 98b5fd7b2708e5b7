"""The ``labelguard`` command line: the Processing algorithms' checks over core and gdalio,
without QGIS."""
