"""The SCDL budget table: conversion from TOTEM, validation against the schema, summaries for the visualisations."""
