"""Capacity planning: the baseline, projections and the spreadsheet model.

Analysis (:mod:`.trend`, :mod:`.baseline`, :mod:`.project`) takes rows and returns
results; :mod:`.gather` reads pgwarden's history and the target; :mod:`.xlsx` and
:mod:`.report` render.
"""
