"""Poverty beneficiaries (P3KE, DTKS, DTSEN): the registry rows, their corrections and Inpres 4/2022 enrolment."""
