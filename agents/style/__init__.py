"""Play styles from logs (issue 28): name how a duel player fights, as DeNA named Othellonia's deck archetypes.

* :mod:`agents.style.tokens`: a round as a document, one token per decision (``what|band|state|outcome``)
  plus 2- and 3-grams; the corpus, with short rounds skipped and counted;
* :mod:`agents.style.model`: the LDA topic model (scikit-learn), K chosen by held-out perplexity and
  stability across seeds, saved as JSON;
* :mod:`agents.style.naming`: the written lexicon of archetypes (rushdown, zoner, turtle, grappler,
  anti-air, footsies) that names topics, or leaves them unnamed;
* :mod:`agents.style.logs`: the scripted reference corpus and any player's rounds (demo folder, ghost,
  agent spec), and :class:`~agents.style.logs.RoundMixer`;
* :mod:`agents.style.identify`: mixtures with confidence, player identification, NMI and the k-means
  baseline; :mod:`agents.style.reference`: the shipped model and the choice of an opponent by style.

May import ``envs``, ``nets`` and the rest of ``agents``; never ``experiments``.
"""
