import numpy as np
import torch

from modecollapse.images import GREY, make_grid


def test_grid_places_tiles_and_fills_padding_with_the_asked_value():
    tiles = torch.ones(3, 1, 4, 4)  # white tiles
    black = make_grid(tiles, columns=3)
    grey = make_grid(tiles, columns=3, pad_value=GREY)
    assert black.shape == grey.shape == (2 + 4 + 2, 3 * (4 + 2) + 2)
    for grid, fill in ((black, 0), (grey, 128)):
        assert (grid[:2] == fill).all() and (grid[:, 6:8] == fill).all()
        assert (grid[2:6, 2:6] == 255).all() and (grid[2:6, 8:12] == 255).all()


def test_grid_pads_a_partial_last_row():
    grid = make_grid(-torch.ones(5, 1, 2, 2), columns=3, pad_value=GREY)  # black tiles, 2 rows of 3
    assert grid.shape == (2 + 2 * 4, 2 + 3 * 4)
    assert (grid[6:8, 10:12] == 128).all()  # the missing sixth tile stays padding
    assert np.count_nonzero(grid == 0) == 5 * 4
