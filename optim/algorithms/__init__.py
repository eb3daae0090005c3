"""One module per optimizer family: a public class and its private in-place kernel."""
