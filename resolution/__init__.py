"""Entity resolution: credit-code rules, Chinese name normalisation, Splink matching, judgements."""
