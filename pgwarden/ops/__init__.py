"""Track 4, operational governance: change control (:mod:`.ccb`), release rehearsal
(:mod:`.rehearse`), post-launch reviews (:mod:`.review`) and on-call (:mod:`.oncall`).
"""
