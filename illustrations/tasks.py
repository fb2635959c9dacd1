# Illustrations: see illustrations work.
