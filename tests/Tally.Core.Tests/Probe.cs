namespace Tally.Core.Tests; public class Probe { [Fact] public void Works() => Assert.True(true); }
