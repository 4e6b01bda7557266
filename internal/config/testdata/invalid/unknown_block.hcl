# want: 2:1: Unsupported block type: Blocks of type "servce" are not expected here. Did you mean "service"?
servce "web" {}
