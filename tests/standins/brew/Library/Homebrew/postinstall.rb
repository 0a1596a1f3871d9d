# frozen_string_literal: true

# Runs a formula's post_install in its own process, as Homebrew's
# Library/Homebrew/postinstall.rb does: `ruby … postinstall.rb <formula file>`.
require_relative "formula"

formula = Formula.load_from(ARGV.last)
formula.run_post_install
