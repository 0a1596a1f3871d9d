# frozen_string_literal: true

# The part of Homebrew's Formula DSL the stand-in needs: url, sha256,
# version, a `bottle do … end` block, `def install`, `def post_install`, and
# the keg paths (prefix, bin, etc, var) a formula's code uses.

# Where this Homebrew lives, as `brew` computed it (passed on in ENV to the
# post-install child, as Homebrew passes its HOMEBREW_* variables).
module HomebrewPaths
  def self.prefix = ENV.fetch("HOMEBREW_PREFIX")
  def self.cellar = ENV.fetch("HOMEBREW_CELLAR")
end

# One formula, loaded from its Ruby file.
class Formula
  # The bottle block: `root_url`, `sha256 cellar: …, <tag>: "…"`.
  class BottleSpec
    attr_reader :checksums

    def initialize
      @checksums = {}
      @root_url = nil
    end

    def root_url(url = nil)
      @root_url = url if url
      @root_url
    end

    def sha256(hash)
      hash.each { |tag, sum| @checksums[tag] = sum unless tag == :cellar }
    end

    def rebuild(_n) = nil
  end

  class << self
    %i[desc homepage url sha256 version license].each do |attr|
      define_method(attr) do |val = nil|
        instance_variable_set("@#{attr}", val) if val
        instance_variable_get("@#{attr}")
      end
    end

    def bottle(&block)
      @bottle_spec = BottleSpec.new
      @bottle_spec.instance_eval(&block)
    end

    attr_reader :bottle_spec

    def depends_on(*) = nil
  end

  # Homebrew's Formulary.class_s: `foo-bar` → `FooBar`, `@` → `AT`.
  def self.class_s(name)
    name.capitalize.gsub(/[-_.\s]([a-zA-Z0-9])/) { Regexp.last_match(1).upcase }
        .tr("+", "x").sub(/(.)@(\d)/, "\\1AT\\2")
  end

  # Loads the formula file at `path`.
  def self.load_from(path)
    name = File.basename(path, ".rb")
    mod = Module.new
    mod.module_eval(File.read(path), path)
    klass = mod.const_get(class_s(name))
    klass.new(name, path)
  end

  attr_reader :name, :path

  def initialize(name, path)
    @name = name
    @path = path
  end

  def version = self.class.version || self.class.url.to_s[/-(\d[\w.]*)\.(?:tar|tgz|zip)/, 1]
  def prefix = File.join(HomebrewPaths.cellar, name, version.to_s)
  def bin = File.join(prefix, "bin")
  def etc = File.join(HomebrewPaths.prefix, "etc")
  def var = File.join(HomebrewPaths.prefix, "var")
  def opt_prefix = File.join(HomebrewPaths.prefix, "opt", name)

  def install; end

  def post_install; end

  # True when the formula defines its own post_install.
  def post_install_defined? = method(:post_install).owner != Formula

  # What Homebrew's postinstall.rb runs in the child process.
  def run_post_install
    post_install
  end
end
