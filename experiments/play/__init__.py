"""A person at the keyboard: ``duel`` (``sandbox play duel``) and ``record`` (rounds saved as ghost demos).

May import envs, nets and agents."""
