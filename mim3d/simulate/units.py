"""Physical constants and the simulator's code units.

Code units: length 1 pc, time 1 Myr, density such that the code density equals n_H in cm^-3
(mass density ``rho = MASS_PER_H * m_H * n_H``; ``MASS_PER_H = 1.4`` for solar abundances,
helium mass fraction ~0.28). Velocities are then in pc/Myr (about 0.978 km/s) and pressures in
``RHO_UNIT * V_UNIT**2``.

Temperature uses a fixed mean molecular weight ``mu`` (a config field, 0.6 by default, i.e.
ionised gas, which dominates the blast): ``T = mu m_H P / (rho k_B)``, hence
``P / k_B = (MASS_PER_H / mu) * n_H * T``.
"""

from __future__ import annotations

import numpy as np

# CGS constants
M_H_G = 1.6735575e-24  # hydrogen atom mass [g]
K_B = 1.380649e-16  # Boltzmann constant [erg/K]
PC_CM = 3.0856775814913673e18  # parsec [cm]
MYR_S = 3.15576e13  # megayear (Julian) [s]
KM_CM = 1.0e5  # kilometre [cm]

MASS_PER_H = 1.4  # mean mass per hydrogen nucleus in m_H (X = 0.71, Y = 0.28, Z = 0.01-0.02)
SEDOV_XI = 1.15167  # Sedov-Taylor constant for gamma = 5/3: R = xi (E t^2 / rho)^(1/5)

# code units in CGS
RHO_UNIT = MASS_PER_H * M_H_G  # g cm^-3 per unit code density (= per n_H of 1 cm^-3)
V_UNIT = PC_CM / MYR_S  # cm/s per pc/Myr
P_UNIT = RHO_UNIT * V_UNIT**2  # erg cm^-3 per code pressure unit
E_UNIT = P_UNIT * PC_CM**3  # erg per code energy unit

V_CODE_TO_KMS = V_UNIT / KM_CM  # code velocity -> km/s
P_CODE_TO_K = P_UNIT / K_B  # code pressure -> P/k_B [K cm^-3]


def temperature_from_code(n_h: np.ndarray, p_code: np.ndarray, mu: float) -> np.ndarray:
    """Temperature [K] from code density (= n_H) and code pressure, at fixed ``mu``."""
    return mu * M_H_G * p_code * P_UNIT / (n_h * RHO_UNIT * K_B)


def pressure_code_from_temperature(n_h: np.ndarray, t_k: np.ndarray, mu: float) -> np.ndarray:
    """Code pressure from n_H [cm^-3] and temperature [K] at fixed ``mu``."""
    return n_h * RHO_UNIT * K_B * t_k / (mu * M_H_G * P_UNIT)
