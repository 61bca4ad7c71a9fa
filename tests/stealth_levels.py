"""Small stealth levels shared by several test files."""

# A corridor with a sentry that looks down it every other 3-step half period: the optimum must wait
# in the alcove (row 1) until the sentry looks away, so the greedy policy is not just "go east".
ALCOVE = """
name = "alcove"
max_steps = 60
grid = '''
#######
#.#####
S.....G
#######
'''

[[guard]]
kind = "sentry"
at = [1, 1]
facings = ["S", "E"]
turn_every = 3
view_range = 1
fov_deg = 90
"""
