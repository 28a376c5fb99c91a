"""The desktop app and the headless runner around ``model``'s predictor."""
