"""A simulated Apple Watch user and the runner that uploads its syncs to a stack.

`user.AppleWatchUser` is the model (composed of the modules beside it, see its docstring);
`runner` uploads its syncs over HTTP.
"""
