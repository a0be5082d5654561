"""The digits' data generators: drawings made from MNIST and shapes, as clients send them.

:mod:`.pen` traces digits with a round pen (draw-pad strokes), :mod:`.canvas` lays ink on a canvas in
a colour style and an image format, :mod:`.negatives` draws what is not a digit. Used by training,
evaluation and the tests; never by the service.
"""
